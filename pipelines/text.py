"""Text normalisation, boilerplate removal and sentence splitting.

Sentences matter downstream: the tagger quotes them as evidence, so cleaning keeps sentence and
paragraph boundaries instead of flattening everything into one line.
"""

from __future__ import annotations

import re
import unicodedata

# Footnote markers are superscript digits; NFKC would turn "Kitching¹" into "Kitching1".
_SUPERSCRIPTS = re.compile(r"[\u00b9\u00b2\u00b3\u2070-\u209f]+")
_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u200b": "",
        "\ufeff": "",
        "\u00ad": "",  # soft hyphen
        "\u2022": "-",
        "\u2713": "-",  # check-mark bullets in reports
        "\u2714": "-",
        "\uf0b7": "-",  # private-use bullet from PDF exports
    }
)

# Link and navigation boilerplate that NSPCC pages attach to every summary.
_BOILERPLATE = [
    re.compile(
        r"\s*>\s*Read (the )?(overview report|executive summary|learning summary|[\w ]{0,40}report)"
        r"( \(PDF\))?\s*\.?",
        re.I,
    ),
    re.compile(r"\s*Other resources:?\s+Read [^\n]*", re.I),
    re.compile(r"^\s*(page \d+( of \d+)?|\d+)\s*$", re.I | re.M),  # page numbers on their own line
    re.compile(r"^\s*\|?[-| ]{3,}\|?\s*$", re.M),  # markdown table rules
]

_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "etc",
    "mr",
    "mrs",
    "ms",
    "dr",
    "no",
    "nos",
    "para",
    "paras",
    "vs",
    "cf",
    "st",
    "fig",
    "approx",
    "incl",
    "dept",
    "ref",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def normalise_unicode(text: str) -> str:
    text = _SUPERSCRIPTS.sub("", text)
    text = unicodedata.normalize("NFKC", text)  # ligatures (ﬁ → fi), full-width forms
    return text.translate(_CHAR_MAP)


def remove_boilerplate(text: str) -> str:
    for pattern in _BOILERPLATE:
        text = pattern.sub("", text)
    return text


def join_broken_lines(text: str) -> str:
    """Re-join words hyphenated across lines and sentences broken by a stray paragraph break."""
    text = re.sub(r"(\w)-\n\s*(\w)", r"\1\2", text)
    # a line that does not end a sentence, followed by (blank lines and) a lower-case continuation
    return re.sub(r"([a-z,;])[ \t]*\n(?:[ \t]*\n)*[ \t]*(?=[a-z])", r"\1 ", text)


def collapse_whitespace(text: str) -> str:
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def drop_truncated_tail(text: str) -> str:
    """Listing pages cut some summaries mid-word ("contextual infor"); drop the dangling fragment."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in ".!?:;)\"'":
        return stripped
    head, _, _tail = stripped.rpartition(" ")
    return head.rstrip(" ,;:-") if head else stripped


def clean_text(text: str, drop_truncated: bool = False) -> str:
    text = normalise_unicode(text)
    text = remove_boilerplate(text)
    text = join_broken_lines(text)
    text = collapse_whitespace(text)
    if drop_truncated:
        text = drop_truncated_tail(text)
    return text


def split_sentences(text: str) -> list[str]:
    """Rule-based splitter: good enough for report prose, and with no model to download."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n+", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            candidate = paragraph[start : match.start()].strip()
            last_word = re.findall(r"([A-Za-z.]+)\.?[\"')\]]*$", candidate)
            if last_word and last_word[-1].rstrip(".").lower() in _ABBREVIATIONS:
                continue
            if candidate:
                sentences.append(candidate)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


# Text one review may feed the models when tagging: ~30 long reports' worth. Beyond it the regex
# and TF-IDF passes grow with the text (a 50 MB file took 90 s and 0.9 GiB in the lexicon alone).
DEFAULT_MAX_CHARS = 2_000_000


def sample_text(text: str, max_chars: int, parts: int = 16) -> str:
    """At most `max_chars` characters taken as `parts` evenly spaced slices, each cut at line breaks
    where it can, so a huge file is still read from beginning to end (like the transformer's window
    cap) instead of only its opening pages. Callers report that the cap applied."""
    if len(text) <= max_chars:
        return text
    size = max_chars // parts
    step = (len(text) - size) / max(parts - 1, 1)
    pieces = []
    for k in range(parts):
        start = int(k * step)
        piece = text[start : start + size]
        if k > 0 and "\n" in piece[: size // 4]:
            piece = piece[piece.index("\n") + 1 :]
        if k < parts - 1 and "\n" in piece[-size // 4 :]:
            piece = piece[: piece.rindex("\n")]
        pieces.append(piece.strip())
    return "\n\n".join(p for p in pieces if p)
