"""The review view's text: the review's stretch of its document cut into segments at every evidence
boundary, each segment knowing which labels' evidence covers it.

The template escapes each segment and wraps the covered ones in `<mark>`; nothing here produces
HTML, so review text can never become markup. Colours are CSS classes (`c0`..`c35`), not inline
styles, because the Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HUES = 12  # distinct background colours
STYLES = 3  # underline styles (solid, dashed, dotted) that tell apart two labels of one hue
PALETTE = HUES * STYLES  # a review's labels get distinct classes up to this many (the taxonomy has 35)


@dataclass
class Segment:
    text: str
    labels: list[str] = field(default_factory=list)  # labels whose evidence covers this stretch
    anchors: list[str] = field(default_factory=list)  # ids of the evidence items that start here
    start: int = 0  # offset in the document


def colours(row: dict, extra: list[str] | None = None) -> dict[str, int]:
    """One colour class per label of the review, in the row's order (most probable first per task), then
    the labels a reader added and the other labels with evidence: 36 distinct hue x underline classes,
    so no two labels of one review share a look (a review rarely holds more than a dozen)."""
    labels = [*row.get("harm_type", []), *row.get("learning_theme", [])]
    labels += [label for label in [*(extra or []), *row.get("evidence", {})] if label not in labels]
    labels = list(dict.fromkeys(labels))
    return {label: i % PALETTE for i, label in enumerate(labels)}


def anchor(label: str, k: int) -> str:
    return f"ev-{label}-{k}"


def section_anchor(k: int) -> str:
    return f"sec-{k}"


def segments(
    document: str, region: tuple[int, int], evidence: dict[str, list[dict]], sections: list[dict] | None = None
) -> list[Segment]:
    """Cut document[start:end] at every evidence boundary and at every section start (evidence outside
    the region widens it: a quote is always shown in place, never dropped). A section's start carries
    its anchor (`sec-K`), so the page's outline jumps to it."""
    items = [
        (label, k, item["start"], item["end"])
        for label, found in evidence.items()
        for k, item in enumerate(found)
        if 0 <= item["start"] < item["end"] <= len(document)
    ]
    start = min([region[0], *(a for _, _, a, _ in items)])
    end = max([region[1], *(b for _, _, _, b in items)])
    heads = {k: int(sec["start"]) for k, sec in enumerate(sections or []) if start <= int(sec["start"]) < end}
    cuts = sorted({start, end, *(a for _, _, a, _ in items), *(b for _, _, _, b in items), *heads.values()})
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [label for label, _, s, e in items if s <= a and b <= e]
        starting = [section_anchor(k) for k, at in heads.items() if at == a]
        starting += [anchor(label, k) for label, k, s, _ in items if s == a]
        out.append(Segment(document[a:b], list(dict.fromkeys(covering)), starting, a))
    return out
