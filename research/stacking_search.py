"""A learned per-label combination of the ensemble's members, measured against the shipped mean:
`python -m research.stacking_search` → experiments/stacking_search.json.

The mean dilutes a confident member (issue 21: a care leaver who "took his own life" matches the
lexicon, the mean of three members falls under the threshold). `research.combination_search` tried fixed
rules per label (max, noisy-OR, one member); this tries learning the combination. Candidates:

- `shipped`: the ensemble's own combination (the mean; noisy-OR of rule and learned members for the
  few-shot labels); `mean`: the plain mean of every member;
- `stack`: per label, a logistic regression on the members' log-odds, fitted on the train rows'
  out-of-fold probabilities (the members' cv_proba.npy), so every weight is learned from scores the
  members gave to reviews they never saw; its CV figure is nested (fitted on four folds, scored on the
  fifth), never on the rows it was fitted on;
- `rule_or_mean`: noisy-OR of the lexicon's rule score with the mean of the learned members, so a rule
  match cannot be averaged away.

Scored the way the champion is chosen: CV = train out-of-fold with thresholds tuned on validation.
The rare-harm challenge set (data/gold/challenge, SYNTHETIC) is scored too and chooses nothing; the
2023 test split is not read.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data, multi_hot
from pipelines.evaluation.reports import load_gold
from pipelines.evaluation.scoring import fold_scores, micro_precision_recall, scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE, tune_thresholds
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/stacking_search.json")
CHALLENGE = Path("data/gold/challenge/gold.jsonl")
EPS = 1e-3


def log_odds(parts: list[np.ndarray]) -> np.ndarray:
    """(rows, labels, members) log-odds of the members' probabilities, clipped off 0 and 1."""
    p = np.clip(np.stack(parts, axis=-1), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def fit_stack(features: np.ndarray, y: np.ndarray, C: float) -> list[tuple[np.ndarray, float] | None]:
    """Per label, (weights, bias) of a logistic regression on the members' log-odds; None where the
    rows hold one class only (the label then keeps the mean)."""
    from sklearn.linear_model import LogisticRegression

    out: list[tuple[np.ndarray, float] | None] = []
    for j in range(y.shape[1]):
        if len(set(y[:, j].tolist())) < 2:
            out.append(None)
            continue
        model = LogisticRegression(C=C, max_iter=1000).fit(features[:, j, :], y[:, j])
        out.append((model.coef_[0], float(model.intercept_[0])))
    return out


def apply_stack(stack: list, features: np.ndarray, mean: np.ndarray) -> np.ndarray:
    proba = mean.copy()
    for j, fitted in enumerate(stack):
        if fitted is not None:
            weights, bias = fitted
            proba[:, j] = 1 / (1 + np.exp(-(features[:, j, :] @ weights + bias)))
    return proba


def candidates(parts: dict[str, np.ndarray], ensemble) -> dict[str, np.ndarray]:
    mean = np.mean(list(parts.values()), axis=0)
    learned = np.mean([p for kind, p in parts.items() if kind != "lexicon"], axis=0)
    return {
        "shipped": ensemble.combine(list(parts.values())),
        "mean": mean,
        "rule_or_mean": 1 - (1 - parts["lexicon"]) * (1 - learned),
    }


def summary(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    precision, recall = micro_precision_recall(y, pred)
    s = scores(y, pred, labels)
    per = {label: v["recall"] for label, v in s["per_label"].items() if v["support"]}
    return {"micro_f1": s["micro_f1"], "precision": round(precision, 3), "recall": round(recall, 3)} | {
        "recall_per_label": per
    }


def evaluate_task(task: str, C: float) -> dict:
    ensemble = load_classifier(Path("models") / task / "ensemble")
    labels = ensemble.labels
    data = load_task_data(task, labels=labels)
    train, validation = data.splits["train"], data.splits["validation"]
    challenge = load_gold(CHALLENGE)
    y_challenge = multi_hot(challenge.labels[task], labels)
    kinds = list(ensemble.members)
    oof = {k: np.load(Path("models") / task / k / CV_PROBA_FILE, allow_pickle=False) for k in kinds}
    val = {k: m.predict_proba(validation.texts) for k, m in ensemble.members.items()}
    chal = {k: m.predict_proba(challenge.texts) for k, m in ensemble.members.items()}
    rows = {"oof": candidates(oof, ensemble), "val": candidates(val, ensemble), "chal": candidates(chal, ensemble)}
    feats = {name: log_odds(list(parts.values())) for name, parts in (("oof", oof), ("val", val), ("chal", chal))}
    nested = np.zeros(train.y.shape)
    for fold in sorted(set(train.folds.tolist()) - {-1}):
        fit, held = train.folds != fold, train.folds == fold
        stack = fit_stack(feats["oof"][fit], train.y[fit], C)
        nested[held] = apply_stack(stack, feats["oof"][held], rows["oof"]["shipped"][held])
    stack = fit_stack(feats["oof"], train.y, C)
    rows["oof"]["stack"] = nested
    rows["val"]["stack"] = apply_stack(stack, feats["val"], rows["val"]["shipped"])
    rows["chal"]["stack"] = apply_stack(stack, feats["chal"], rows["chal"]["shipped"])
    out = {}
    for name in rows["oof"]:
        thresholds = tune_thresholds(validation.y, rows["val"][name])
        cv = fold_scores(train.y, (rows["oof"][name] >= thresholds).astype(np.int8), train.folds, labels)
        challenge_pred = (rows["chal"][name] >= thresholds).astype(np.int8)
        out[name] = {
            "cv_micro_f1": cv["micro_f1"],
            "cv_macro_f1": cv["macro_f1"],
            "challenge": summary(y_challenge, challenge_pred, labels),
        }
    out["stack_weights"] = {
        label: None if s is None else dict(zip(kinds, np.round(s[0], 2).tolist(), strict=True))
        for label, s in zip(labels, stack, strict=True)
    }
    return out


def main() -> None:
    report = {}
    for C in (0.1, 1.0):
        for task in TASKS:
            report.setdefault(f"C={C}", {})[task] = result = evaluate_task(task, C)
            print(
                C,
                task,
                {
                    k: (v["cv_micro_f1"], v["cv_macro_f1"], v["challenge"]["recall"])
                    for k, v in result.items()
                    if k != "stack_weights"
                },
            )
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
