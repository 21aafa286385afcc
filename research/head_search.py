"""Recipe search for the transformer kind: `python -m research.head_search` → experiments/head_search.json
and one MLflow run per candidate (experiment `head-search`).

Why it exists: issue 5 asks to measure the alternatives and keep what wins. Each candidate is a
different way to turn the frozen encoder into document features or training labels; all are scored
the same way and never on the test split: 5-fold out-of-fold predictions on train (thresholds
tuned on those), then validation scored with the same thresholds. The encoder runs once per
window shape; logistic regression heads make the comparison fast and free of optimiser noise.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data
from pipelines.evaluation.scoring import scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import tune_thresholds
from pipelines.text import split_sentences

OUT = Path("experiments/head_search.json")
log = logging.getLogger(__name__)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _mean_by_owner(emb: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Rows (windows, sentences; `owner` sorted) → one normalised mean embedding per owner."""
    from pipelines.modeling.heads import pool

    return _normalise(pool(emb.astype(np.float64), owner, n, "mean"))


def document_features(texts: list[str], base_model: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Candidate document representations from the frozen encoder, one row per text, and the
    encoding speed of each (texts per second on this machine)."""
    from pipelines.config import EncoderConfig, TransformerConfig
    from pipelines.modeling.encoders import FrozenEncoder

    max_windows = TransformerConfig.max_windows  # as the transformer kind reads a document
    features, speed = {}, {}
    shapes = [("windows256_mean", 256, 64, 0), ("windows128_mean", 128, 16, 0)]
    shapes += [(f"windows256_mean_{k}layers", 256, 64, k) for k in (3, 4)]  # the speed lever: fewer blocks
    for name, length, stride, layers in shapes:
        encoder = FrozenEncoder(base_model, EncoderConfig(base_model=base_model, max_length=length, num_layers=layers))
        started = time.perf_counter()
        emb, owner = encoder.encode_windows(texts, stride, max_windows, progress=True)
        speed[name] = len(texts) / (time.perf_counter() - started)
        features[name] = _mean_by_owner(emb, owner, len(texts))
    encoder = FrozenEncoder(base_model, EncoderConfig(base_model=base_model, max_length=128))
    started = time.perf_counter()
    sentences = [split_sentences(t) or [t] for t in texts]
    flat = [s for group in sentences for s in group]
    emb, owner = encoder.encode_windows(flat, 16, max_windows, progress=True)
    speed["sentences_mean"] = len(texts) / (time.perf_counter() - started)
    per_sentence = _mean_by_owner(emb, owner, len(flat))
    doc_of_sentence = np.repeat(np.arange(len(texts)), [len(g) for g in sentences])
    features["sentences_mean"] = _mean_by_owner(per_sentence, doc_of_sentence, len(texts))
    return features, speed


def _fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((len(x_new), y.shape[1]))
    for j in range(y.shape[1]):
        if y[:, j].min() == y[:, j].max():
            out[:, j] = y[0, j]
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        out[:, j] = model.fit(x, y[:, j]).predict_proba(x_new)[:, 1]
    return out


def evaluate_candidate(
    x: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    labels: list[str],
    c: float,
    weak: np.ndarray | None = None,
) -> dict:
    """Out-of-fold scores on train, then validation with the out-of-fold thresholds. `weak` labels
    (one row per train review) are added to the positives the heads are fitted on; held-out rows
    are always scored against the NSPCC-derived labels."""
    fit_y = y | weak if weak is not None else y
    oof = np.zeros(y.shape)
    for fold in sorted(set(folds.tolist()) - {-1}):
        held = folds == fold
        oof[held] = _fit_predict(x[~held], fit_y[~held], x[held], c)
    thresholds = tune_thresholds(y, oof)
    cv = scores(y, (oof >= thresholds).astype(int), labels)
    val = scores(y_val, (_fit_predict(x, fit_y, x_val, c) >= thresholds).astype(int), labels)
    return {
        "cv_micro_f1": cv["micro_f1"],
        "cv_macro_f1": cv["macro_f1"],
        "val_micro_f1": val["micro_f1"],
        "val_macro_f1": val["macro_f1"],
    }


def search(task: str, features: dict[str, np.ndarray], speed: dict[str, float], index: dict[str, int]) -> list[dict]:
    from pipelines.modeling.registry import load_classifier

    data = load_task_data(task)
    train, validation = data.splits["train"], data.splits["validation"]
    rows_train = [index[t] for t in train.texts]
    rows_val = [index[t] for t in validation.texts]
    lexicon_dir = Path("models") / task / "lexicon"
    lexicon = load_classifier(lexicon_dir) if (lexicon_dir / "meta.json").exists() else None
    results = []
    for name, matrix in features.items():
        for c in (1.0, 3.0, 10.0):
            args = (matrix[rows_train], train.y, train.folds, matrix[rows_val], validation.y, data.labels, c)
            row = {"task": task, "features": name, "labels": "nspcc", "C": c, "texts_per_s": round(speed[name], 1)}
            results.append(row | evaluate_candidate(*args))
    if lexicon is not None:  # two uses of the hand-written lexicon, on the best-known features
        best = "sentences_mean"
        lex_train, lex_val = lexicon.predict_proba(train.texts), lexicon.predict_proba(validation.texts)
        weak = lexicon.decide(lex_train)
        for c in (1.0, 3.0):
            x, x_val = features[best][rows_train], features[best][rows_val]
            args = (x, train.y, train.folds, x_val, validation.y, data.labels, c)
            union = evaluate_candidate(*args, weak=weak)
            results.append({"task": task, "features": best, "labels": "nspcc | lexicon (weak)", "C": c, **union})
            x_lex, x_val_lex = np.hstack([x, 3 * lex_train]), np.hstack([x_val, 3 * lex_val])
            scored = evaluate_candidate(x_lex, train.y, train.folds, x_val_lex, validation.y, data.labels, c)
            results.append({"task": task, "features": best + " + lexicon scores", "labels": "nspcc", "C": c, **scored})
    return results


def use_search_experiment() -> None:
    """Recipe searches (this module and `research.finetune_search`) log to one MLflow experiment."""
    import mlflow

    from pipelines import tracking
    from pipelines.config import TrackingConfig, load_section

    tracking.configure(load_section("tracking", TrackingConfig))
    mlflow.set_experiment("head-search")


def log_to_mlflow(results: list[dict]) -> None:
    import mlflow

    use_search_experiment()
    for row in results:
        with mlflow.start_run(run_name=f"{row['task']}: {row['features']} / {row['labels']} / C={row['C']}"):
            mlflow.log_params({k: row[k] for k in ("task", "features", "labels", "C")})
            mlflow.log_metrics({k: v for k, v in row.items() if k.endswith(("_f1", "_per_s"))})


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help="only write experiments/head_search.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    from pipelines.config import default_base_model
    from pipelines.modeling.registry import kind_config

    base_model = kind_config("transformer").base_model or default_base_model()
    texts = sorted(
        {t for task in TASKS for name in ("train", "validation") for t in load_task_data(task).splits[name].texts}
    )
    index = {t: i for i, t in enumerate(texts)}
    features, speed = document_features(texts, base_model)
    results = [row for task in TASKS for row in search(task, features, speed, index)]
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        log_to_mlflow(results)
    for row in results:
        log.info(
            "%s %-32s %-24s C=%-4s cv %.3f/%.3f  val %.3f/%.3f",
            row["task"],
            row["features"],
            row["labels"],
            row["C"],
            row["cv_micro_f1"],
            row["cv_macro_f1"],
            row["val_micro_f1"],
            row["val_macro_f1"],
        )


if __name__ == "__main__":
    main()
