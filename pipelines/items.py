"""A review as a list of items: what a theme or a harm is stated in.

Summaries state their learning as lists ("Learning includes: a; b; c. Recommendations include: x;
y") and reports as sentences in numbered paragraphs, and each label usually lives in one item. A
model that scores items and pools them can say which item carries a label, and that item is the
evidence. Items are spans of the (cleaned) text, so evidence maps back to the original document.
"""

from __future__ import annotations

import re

import numpy as np

from pipelines.text import sentence_spans

Span = tuple[int, int]
_LIST_BREAK = re.compile(r";\s+|:\s+(?=\S)")  # list items, and a list's lead-in ("Learning includes:")
MIN_ITEM_WORDS = 3


def item_spans(text: str, max_items: int = 0) -> list[Span]:
    """Sentences, each cut at the semicolons that separate list items; a lead-in ("Learning
    includes:") stays with the first item after it, and fragments under three words join the item
    before them. `max_items` > 0 keeps that many, evenly spread over the document (first and last
    kept), for very long reports."""
    items: list[Span] = []
    for start, end in sentence_spans(text):
        cut, lead_in = start, None
        for match in [*_LIST_BREAK.finditer(text, start, end), None]:
            a, b = _trim(text, cut, match.start() + 1 if match else end)  # keep the ';' or ':'
            cut = match.end() if match else end
            if b <= a:
                continue
            if text[b - 1] == ":" and match is not None:
                lead_in = a if lead_in is None else lead_in
                continue
            a, lead_in = (lead_in if lead_in is not None else a), None
            if items and len(text[a:b].split()) < MIN_ITEM_WORDS and items[-1][1] >= start:
                items[-1] = (items[-1][0], b)
            else:
                items.append((a, b))
    if max_items and len(items) > max_items:
        keep = np.linspace(0, len(items) - 1, max_items).round().astype(int)
        items = [items[k] for k in sorted(set(keep.tolist()))]
    return items


def _trim(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    return start + lead, start + lead + len(piece.strip())
