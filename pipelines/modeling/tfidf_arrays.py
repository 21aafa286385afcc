"""A fitted TF-IDF + one-vs-rest logistic regression as plain arrays, applied with numpy alone.

scikit-learn fits the model (`kinds/tfidf_linear.py`); what it learnt is kept as the vocabularies
(JSON, a term per column), the idf weights and the regressions' coefficients (safetensors), and
applied here by re-implementing exactly what scikit-learn's `TfidfVectorizer` does at transform time
(lower-casing, accent stripping, the token pattern, word and `char_wb` n-grams, sublinear tf, idf,
l2 normalisation per block) and `LogisticRegression.predict_proba` (the logistic of the decision
function). Tagging then imports neither scikit-learn nor skops, and a model file holds no code:
JSON and float arrays cannot run anything. tests/test_baselines.py checks that the arrays give
scikit-learn's probabilities.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.modeling.linear import sigmoid

VOCABULARY_FILE = "tfidf.json"
WEIGHTS_FILE = "tfidf.safetensors"
_WHITE_SPACES = re.compile(r"\s\s+")


def strip_accents_unicode(text: str) -> str:
    """scikit-learn's `strip_accents="unicode"`: NFKD, combining marks dropped (ASCII left as is)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass
class Block:
    """One vectorizer of the feature union: how it cuts a text into terms, and its columns."""

    analyzer: str  # word | char_wb
    ngram_range: tuple[int, int]
    lowercase: bool
    strip_accents: str | None
    token_pattern: str
    sublinear_tf: bool
    norm: str | None
    terms: list[str]  # column order
    idf: np.ndarray

    def __post_init__(self) -> None:
        self.index = {term: j for j, term in enumerate(self.terms)}
        self._tokens = re.compile(self.token_pattern)
        if self.analyzer not in ("word", "char_wb") or self.strip_accents not in (None, "unicode"):
            raise ValueError(f"unsupported TF-IDF block: analyzer {self.analyzer}, strip_accents {self.strip_accents}")

    def grams(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.strip_accents == "unicode":
            text = strip_accents_unicode(text)
        low, high = self.ngram_range
        if self.analyzer == "word":
            tokens = self._tokens.findall(text)
            grams = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            return grams
        grams = []
        for word in _WHITE_SPACES.sub(" ", text).split():
            word = f" {word} "
            for n in range(low, high + 1):
                grams += [word[i : i + n] for i in range(max(len(word) - n + 1, 1))]
                if len(word) <= n:  # a short word is counted once, at its shortest n
                    break
        return grams

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of one text: its tf-idf vector, sparse."""
        counts = Counter(j for j in map(self.index.get, self.grams(text)) if j is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            values = np.log(values) + 1.0
        values *= self.idf[columns]
        if self.norm == "l2":
            values /= np.sqrt((values**2).sum()) or 1.0
        return columns, values


@dataclass
class TfidfArrays:
    blocks: list[Block]
    coef: np.ndarray  # (labels, all columns)
    intercept: np.ndarray  # (labels,)
    constant: dict[int, float]  # labels seen with one class only in training: a fixed probability

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        decision = np.tile(self.intercept, (len(texts), 1))
        for i, text in enumerate(texts):
            offset = 0
            for block in self.blocks:
                columns, values = block.row(text)
                if len(columns):
                    decision[i] += self.coef[:, offset + columns] @ values
                offset += len(block.terms)
        proba = sigmoid(decision)
        for j, value in self.constant.items():
            proba[:, j] = value
        return proba

    @classmethod
    def from_sklearn(cls, pipeline) -> TfidfArrays:
        blocks = []
        for _, vectorizer in pipeline.named_steps["features"].transformer_list:
            terms = [""] * len(vectorizer.vocabulary_)
            for term, j in vectorizer.vocabulary_.items():
                terms[int(j)] = term
            blocks.append(
                Block(
                    vectorizer.analyzer,
                    tuple(vectorizer.ngram_range),
                    bool(vectorizer.lowercase),
                    vectorizer.strip_accents,
                    vectorizer.token_pattern,
                    bool(vectorizer.sublinear_tf),
                    vectorizer.norm,
                    terms,
                    np.asarray(vectorizer.idf_, dtype=np.float64),
                )
            )
        width = sum(len(b.terms) for b in blocks)
        estimators = pipeline.named_steps["clf"].estimators_
        coef = np.zeros((len(estimators), width))
        intercept = np.zeros(len(estimators))
        constant: dict[int, float] = {}
        for j, estimator in enumerate(estimators):
            if hasattr(estimator, "coef_"):
                coef[j], intercept[j] = np.ravel(estimator.coef_), float(np.ravel(estimator.intercept_)[0])
            else:  # scikit-learn's _ConstantPredictor: a label with one class in the training data
                constant[j] = float(np.ravel(estimator.y_)[0])
        return cls(blocks, coef, intercept, constant)

    def save(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        layout = {
            "blocks": [
                {
                    "analyzer": b.analyzer,
                    "ngram_range": list(b.ngram_range),
                    "lowercase": b.lowercase,
                    "strip_accents": b.strip_accents,
                    "token_pattern": b.token_pattern,
                    "sublinear_tf": b.sublinear_tf,
                    "norm": b.norm,
                    "terms": b.terms,
                }
                for b in self.blocks
            ],
            "constant": {str(j): v for j, v in sorted(self.constant.items())},
        }
        (directory / VOCABULARY_FILE).write_text(json.dumps(layout, ensure_ascii=False) + "\n", encoding="utf-8")
        arrays = {f"idf_{k}": b.idf for k, b in enumerate(self.blocks)}
        arrays |= {"coef": self.coef, "intercept": self.intercept}
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(directory / WEIGHTS_FILE))

    @classmethod
    def load(cls, directory: Path) -> TfidfArrays:
        from safetensors.numpy import load_file

        layout = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        arrays = load_file(str(directory / WEIGHTS_FILE))
        blocks = [
            Block(
                spec["analyzer"],
                tuple(spec["ngram_range"]),
                spec["lowercase"],
                spec["strip_accents"],
                spec["token_pattern"],
                spec["sublinear_tf"],
                spec["norm"],
                spec["terms"],
                arrays[f"idf_{k}"],
            )
            for k, spec in enumerate(layout["blocks"])
        ]
        constant = {int(j): float(v) for j, v in layout.get("constant", {}).items()}
        return cls(blocks, arrays["coef"], arrays["intercept"], constant)
