"""Tiny synthetic corpora: enough signal for a model to learn in a second, no download."""

from __future__ import annotations

import numpy as np

LABELS = ["neglect", "physical_abuse", "sexual_abuse"]
PHRASES = {
    "neglect": [
        "the home was dirty and the children hungry",
        "chronic neglect of basic needs",
        "poor home conditions and missed dental care",
    ],
    "physical_abuse": [
        "bruises on a non-mobile baby",
        "a skull fracture and other injuries",
        "non-accidental head injury from shaking",
    ],
    "sexual_abuse": ["sexual abuse by the stepfather", "indecent images were found", "rape disclosed to a teacher"],
}
FILLER = [
    "Professionals met regularly.",
    "The family moved area twice.",
    "A review was commissioned.",
    "Health visitors saw the family.",
    "The school raised concerns.",
]


def synthetic(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, rows = [], []
    for _ in range(n):
        y = (rng.random(len(LABELS)) < 0.4).astype(np.int8)
        if not y.any():
            y[rng.integers(len(LABELS))] = 1
        parts = [str(rng.choice(FILLER))]
        for j, label in enumerate(LABELS):
            if y[j]:
                parts.append(f"There was {rng.choice(PHRASES[label])}.")
        parts.append(str(rng.choice(FILLER)))
        texts.append(" ".join(parts))
        rows.append(y)
    return texts, np.array(rows)
