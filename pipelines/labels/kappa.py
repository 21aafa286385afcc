"""Cohen's kappa for two readers' yes/no judgements of the same items: the one definition that the
label audit (two gold passes) and the annotator agreement page (any two annotators) share.

Its own small module so that a change to either caller's reporting does not rerun the other's stage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cohen_kappa(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> float | None:
    """(observed - expected) / (1 - expected), rounded to 4 places; None when it is undefined: no
    items, or expected agreement 1 (both readers gave every item the same judgement, so there is
    no variance for chance to explain and neither 1.0 nor 0 would be true)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not len(a):
        return None
    observed = float((a == b).mean())
    expected = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return None if expected >= 1 else round((observed - expected) / (1 - expected), 4)
