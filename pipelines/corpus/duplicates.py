"""Near-duplicate merging of reviews seen on several pages.

Titles alone mislead (two different "John" reviews, two "Jacob"s) and years/areas can differ
between pages, so text overlap decides; a shared normalised title only lowers the bar.
Overlap is containment (shared shingles / shingles of the shorter text) because a monthly page
tells the same review at greater length than the listing does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.records import Review

_TITLE_NOISE = re.compile(r"\b(child|baby|the|and|review|serious|case|learning|summary|report)\b")


def normalise_title(title: str) -> str:
    title = re.sub(r"\([^)]*\)", " ", title.lower())
    title = _TITLE_NOISE.sub(" ", title)
    return re.sub(r"[^a-z0-9]+", " ", title).strip()


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def containment(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def richness(review: Review) -> tuple:
    """Keywords first (they are the labels), then how many fields are filled, then text length."""
    filled = sum(bool(getattr(review, f)) for f in ("year", "area", "summary", "learning", "recommendations"))
    return (bool(review.keywords), filled, len(review.text), review.review_id)


@dataclass
class Merge:
    kept: Review
    dropped: list[Review]
    similarity: float

    def to_dict(self) -> dict:
        return {
            "kept": {"review_id": self.kept.review_id, "source": self.kept.source, "title": self.kept.title},
            "dropped": [{"review_id": r.review_id, "source": r.source, "title": r.title} for r in self.dropped],
            "similarity": round(self.similarity, 3),
        }


def deduplicate(
    reviews: list[Review], shingle_size: int = 3, threshold: float = 0.6, same_title_threshold: float = 0.35
) -> tuple[list[Review], list[Merge]]:
    """Union-find over pairs whose text overlap passes the threshold; keeps the richest record and
    fills its empty fields (year, area, ...) from the records merged into it."""
    sets = [shingles(r.text, shingle_size) for r in reviews]
    titles = [normalise_title(r.title) for r in reviews]
    parent = list(range(len(reviews)))
    best_sim: dict[int, float] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(reviews)):
        for j in range(i + 1, len(reviews)):
            sim = containment(sets[i], sets[j])
            bar = same_title_threshold if titles[i] and titles[i] == titles[j] else threshold
            if sim >= bar:
                root_i, root_j = find(i), find(j)
                if root_i != root_j:
                    parent[root_j] = root_i
                    best_sim[root_i] = max(best_sim.get(root_i, 0.0), best_sim.pop(root_j, 0.0), sim)

    groups: dict[int, list[int]] = {}
    for i in range(len(reviews)):
        groups.setdefault(find(i), []).append(i)
    kept: list[Review] = []
    merges: list[Merge] = []
    for root, members in groups.items():
        ranked = sorted((reviews[i] for i in members), key=richness, reverse=True)
        best = ranked[0]
        for other in ranked[1:]:
            for name in ("year", "area", "title", "summary", "learning", "recommendations"):
                if not getattr(best, name) and getattr(other, name):
                    setattr(best, name, getattr(other, name))
        kept.append(best)
        if len(ranked) > 1:
            merges.append(Merge(best, ranked[1:], best_sim.get(root, 0.0)))
    order = {id(r): k for k, r in enumerate(reviews)}
    kept.sort(key=lambda r: order[id(r)])
    return kept, merges
