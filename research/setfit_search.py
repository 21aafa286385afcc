"""A SetFit-style contrastive tune of the item encoder: `python -m research.setfit_search` →
experiments/setfit_search.json and one MLflow run per candidate (experiment `head-search`).

Why: the quoted-items kind fits per-label logistic regressions on *frozen* MiniLM item embeddings, and
MiniLM was trained to place paraphrases close, not to separate "the father was not assessed" (fathers)
from "the mother's mental health was not assessed" (parental mental health). SetFit (Tunstall et al.,
2022) first tunes the sentence encoder on pairs, items that carry a common label pulled together and
items with none in common pushed apart (cosine-similarity loss), then fits the same heads on the tuned
embeddings. Short items make this affordable on 2 cores, where whole documents were not.

Honest by construction: in each CV fold the encoder is tuned on the quotes of that fold's training
reviews only, then the heads are fitted and the held-out fold scored; validation uses a tune on every
train review. Scored exactly as the evidence search scores the frozen encoder (`scoring.search_scores`),
alone and averaged with the lexicon, and never on test.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from research.evidence_items_search import ItemData, item_embedder, shipped_item_encoder
from research.scoring import cross_fit, log_search_runs, search_scores

OUT = Path("experiments/setfit_search.json")
log = logging.getLogger(__name__)


@dataclass
class TuneConfig:
    pairs: int = 2000  # sampled pairs per tune, half with a label in common (SetFit's default is 20 per example)
    batch_size: int = 16  # pairs per step
    learning_rate: float = 2e-5
    epochs: int = 1
    C: float = 1.0  # of the heads, as in the shipped quoted_items kind
    seed: int = 42

    def __post_init__(self) -> None:
        if self.pairs < self.batch_size or self.batch_size < 1 or self.epochs < 1:
            raise ValueError("setfit: pairs >= batch_size >= 1 and epochs >= 1")
        if self.learning_rate <= 0 or self.C <= 0:
            raise ValueError("setfit: learning_rate and C must be positive")


def sample_pairs(items: ItemData, fit_ids: list[str], n: int, rng: np.random.Generator) -> list[tuple]:
    """(review, item, review, item, 1.0 | 0.0): half share a quoted label, half are a quoted item and an
    item of a review that has none of its labels (so the pair cannot share one)."""
    index = {rid: i for i, rid in enumerate(items.train.ids)}
    fit = set(fit_ids)
    by_label: dict[int, list[tuple[str, int]]] = {}
    labels_of: dict[tuple[str, int], set[int]] = {}
    for (rid, j), found in items.positive.items():
        if rid in fit:
            for k in found:
                by_label.setdefault(j, []).append((rid, k))
                labels_of.setdefault((rid, k), set()).add(j)
    usable = sorted(j for j, found in by_label.items() if len({rid for rid, _ in found}) >= 2)
    quoted = sorted(labels_of)
    pairs = []
    while len(pairs) < n:
        if len(pairs) % 2 == 0:
            j = usable[rng.integers(len(usable))]
            a, b = rng.choice(len(by_label[j]), size=2, replace=False)
            pairs.append((*by_label[j][a], *by_label[j][b], 1.0))
            continue
        anchor = quoted[rng.integers(len(quoted))]
        others = [rid for rid in fit_ids if not items.train.y[index[rid], sorted(labels_of[anchor])].any()]
        if not others:
            continue
        rid = others[rng.integers(len(others))]
        pairs.append((*anchor, rid, int(rng.integers(len(items.spans[rid]))), 0.0))
    return pairs


def tune_encoder(encoder, pieces: dict[tuple[str, int], str], pairs: list[tuple], cfg: TuneConfig, max_tokens: int):
    """A fine-tuned fp32 copy of the frozen encoder's model (the shipped encoder is never touched)."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    model = copy.deepcopy(encoder.fp32_model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator().manual_seed(cfg.seed)

    def ids(keys):
        return encoder.tokenizer([pieces[k] for k in keys], truncation=True, max_length=max_tokens)["input_ids"]

    for _ in range(cfg.epochs):
        order = torch.randperm(len(pairs), generator=generator).split(cfg.batch_size)
        for batch in tqdm(order, desc="setfit tune", unit="step", leave=False):
            chosen = [pairs[i] for i in batch.tolist()]
            left = encoder.embed(model, ids([(p[0], p[1]) for p in chosen]))
            right = encoder.embed(model, ids([(p[2], p[3]) for p in chosen]))
            target = torch.tensor([p[4] for p in chosen])
            loss = torch.nn.functional.mse_loss((left * right).sum(-1), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def embed_with(encoder, model, items: ItemData, ids: list[str], max_tokens: int) -> dict[str, np.ndarray]:
    """Every item of the given reviews through the tuned model, quantised where the shipped encoder is."""
    from pipelines.modeling.encoders import quantized

    quantised = quantized(model) if encoder.config.quantize_int8 and encoder.device.type == "cpu" else model
    texts = {
        rid: text for split in (items.train, items.validation) for rid, text in zip(split.ids, split.texts, strict=True)
    }
    keys = [(rid, k) for rid in ids for k in range(len(items.spans[rid]))]
    pieces = [texts[rid][slice(*items.spans[rid][k])] for rid, k in keys]
    flat = encoder.encode_items(pieces, max_tokens, model=quantised)
    out: dict[str, list[np.ndarray]] = {}
    for (rid, _), row in zip(keys, flat, strict=True):
        out.setdefault(rid, []).append(row)
    return {rid: np.stack(rows) for rid, rows in out.items()}


def tuned_scores(items: ItemData, encoder, cfg: TuneConfig, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold and validation probabilities, each from a tune on its own training reviews."""
    train = items.train
    texts = dict(zip(train.ids, train.texts, strict=True))
    pieces = {(rid, k): texts[rid][a:b] for rid in train.ids for k, (a, b) in enumerate(items.spans[rid])}
    rng = np.random.default_rng(cfg.seed)

    def fit(fit_mask: np.ndarray, held: np.ndarray | None) -> np.ndarray:
        started = time.perf_counter()
        fit_ids, score_ids = items.ids(fit_mask, held)
        model = tune_encoder(encoder, pieces, sample_pairs(items, fit_ids, cfg.pairs, rng), cfg, max_tokens)
        proba = items.fit_predict(
            fit_ids, score_ids, cfg.C, embed_with(encoder, model, items, fit_ids + score_ids, max_tokens)
        )
        log.info("%s: one tune, %.0f s", items.data.task, time.perf_counter() - started)
        return proba

    return cross_fit(train, fit)


def main(argv: list[str] | None = None) -> None:
    from pipelines.config import LexiconConfig, load_section
    from pipelines.labels.taxonomy import TASKS
    from pipelines.modeling.kinds.lexicon import LexiconClassifier

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=TuneConfig.pairs)
    parser.add_argument("--task", choices=TASKS, action="append", help="default: both")
    parser.add_argument("--no-mlflow", action="store_true", help=f"only write {OUT}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    cfg = TuneConfig(pairs=args.pairs)
    encoder, config = shipped_item_encoder()
    embedder = item_embedder(encoder, config)
    max_tokens = config.max_item_tokens
    results = []
    for task in args.task or TASKS:
        started = time.perf_counter()
        items = ItemData(task, embedder)
        lexicon_model = LexiconClassifier(task, items.data.labels, {}, load_section("lexicon", LexiconConfig).lexicon)
        lexicon = (lexicon_model.predict_proba(items.train.texts), lexicon_model.predict_proba(items.validation.texts))
        oof_frozen, val_frozen = items.frozen_scores(cfg.C)
        oof_tuned, val_tuned = tuned_scores(items, encoder, cfg, max_tokens)
        seconds = round(time.perf_counter() - started, 1)
        for encoder_name, oof, val in (("frozen", oof_frozen, val_frozen), ("setfit", oof_tuned, val_tuned)):
            for combined, (o, v) in (
                ("items", (oof, val)),
                ("mean with lexicon", ((oof + lexicon[0]) / 2, (val + lexicon[1]) / 2)),
            ):
                scores = search_scores(items.train, items.validation, o, v, items.data.labels, items.frequent)
                results.append(
                    {"task": task, "encoder": encoder_name, "combined": combined, **asdict(cfg), **scores}
                    | {"seconds_both_encoders": seconds}
                )
                log.info("%s", results[-1])
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        log_search_runs(
            results,
            ("task", "encoder", "combined", "pairs", "learning_rate", "C"),
            lambda row: f"{row['task']}: quoted items, {row['encoder']} encoder, {row['combined']}",
        )


if __name__ == "__main__":
    main()
