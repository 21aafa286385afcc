"""Tiny synthetic corpora: enough signal for a model to learn in a second, no download."""

from __future__ import annotations

import json

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


THEME_LABELS = ["education", "health_services", "police_and_justice"]
THEME_PHRASES = {
    "education": ["the school and teachers raised concerns", "exclusion from school"],
    "health_services": ["the GP and health visitors saw the baby", "a hospital paediatrician examined her"],
    "police_and_justice": ["police attended the home", "the court made an order"],
}


def synthetic(n: int, seed: int = 0, labels=None, phrases=None) -> tuple[list[str], np.ndarray]:
    labels, phrases = labels or LABELS, phrases or PHRASES
    rng = np.random.default_rng(seed)
    texts, rows = [], []
    for _ in range(n):
        y = (rng.random(len(labels)) < 0.4).astype(np.int8)
        if not y.any():
            y[rng.integers(len(labels))] = 1
        parts = [str(rng.choice(FILLER))]
        for j, label in enumerate(labels):
            if y[j]:
                parts.append(f"There was {rng.choice(phrases[label])}.")
        parts.append(str(rng.choice(FILLER)))
        texts.append(" ".join(parts))
        rows.append(y)
    return texts, np.array(rows)


def run_stage(name: str, item: str = "harm_type") -> None:
    """Run one DVC stage in-process with the arguments of its command line in the real dvc.yaml
    (relative paths, so it reads and writes the current folder)."""
    import importlib
    import shlex
    from pathlib import Path

    import yaml

    stages = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())["stages"]
    stage = stages[name]
    words = shlex.split(stage.get("do", stage)["cmd"].replace("${item}", item))
    module = words[words.index("-m") + 1]
    importlib.import_module(module).main(words[words.index("-m") + 2 :])


def rows_of(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip().startswith("{")]


def make_tiny_bert(directory, max_positions: int = 128) -> str:
    """A randomly initialised 2-layer BERT and its tokenizer, saved like a Hub model: no download."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w.strip(".").lower() for text in FILLER + sum(PHRASES.values(), []) for w in text.split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "there", "was", *words]
    (directory / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
