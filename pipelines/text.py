"""Text normalisation, boilerplate removal and sentence splitting.

Sentences matter downstream: the tagger quotes them as evidence, so cleaning keeps sentence and
paragraph boundaries instead of flattening everything into one line.
"""

from __future__ import annotations

import re

from pipelines.mapped import MappedText, nfkc_clusters

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


_MAPPED_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _CHAR_MAP) + "]")


def normalise_unicode(text: str) -> str:
    return normalise_mapped(MappedText.of(text)).text


def normalise_mapped(text: MappedText) -> MappedText:
    text = text.sub(_SUPERSCRIPTS, "")
    text = nfkc_clusters(text)  # ligatures (ﬁ → fi), full-width forms
    return text.sub(_MAPPED_CHARS, lambda m: m.group(0).translate(_CHAR_MAP))


def remove_boilerplate(text: MappedText) -> MappedText:
    for pattern in _BOILERPLATE:
        text = text.sub(pattern, "")
    return text


_HYPHENATED = re.compile(r"(\w)-\n\s*(\w)")
# a line that does not end a sentence, followed by (blank lines and) a lower-case continuation
_BROKEN_LINE = re.compile(r"([a-z,;])[ \t]*\n(?:[ \t]*\n)*[ \t]*(?=[a-z])")


def join_broken_lines(text: MappedText) -> MappedText:
    """Re-join words hyphenated across lines and sentences broken by a stray paragraph break."""
    return text.sub(_HYPHENATED, r"\1\2").sub(_BROKEN_LINE, r"\1 ")


_SPACES = re.compile(r"[ \t\r\f\v]+")
_SPACES_AROUND_NEWLINE = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")


def collapse_whitespace(text: MappedText) -> MappedText:
    text = text.sub(_SPACES, " ").sub(_SPACES_AROUND_NEWLINE, "\n").sub(_BLANK_LINES, "\n\n")
    return text.strip()


def drop_truncated_tail(text: str) -> str:
    """Listing pages cut some summaries mid-word ("contextual infor"); drop the dangling fragment.
    The result is always a prefix of `text`."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in ".!?:;)\"'":
        return stripped
    head, _, _tail = stripped.rpartition(" ")
    return head.rstrip(" ,;:-") if head else stripped


def clean_mapped(text: MappedText, drop_truncated: bool = False) -> MappedText:
    """The cleaning, keeping each character's place in the original (for verbatim evidence)."""
    text = collapse_whitespace(join_broken_lines(remove_boilerplate(normalise_mapped(text))))
    return text[: len(drop_truncated_tail(text.text))] if drop_truncated else text


def clean_text(text: str, drop_truncated: bool = False) -> str:
    return clean_mapped(MappedText.of(text), drop_truncated).text


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Rule-based splitter: good enough for report prose, and with no model to download. Spans,
    not strings, so evidence can be mapped back to the document it was read from."""
    spans: list[tuple[int, int]] = []

    def keep(a: int, b: int) -> None:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            spans.append((a + lead, a + lead + len(piece.strip())))

    for paragraph in re.finditer(r"[^\n]+", text):
        offset, body = paragraph.start(), paragraph.group(0)
        start = 0
        for match in _SENTENCE_END.finditer(body):
            candidate = body[start : match.start()].strip()
            last_word = re.findall(r"([A-Za-z.]+)\.?[\"')\]]*$", candidate)
            if last_word and last_word[-1].rstrip(".").lower() in _ABBREVIATIONS:
                continue
            keep(offset + start, offset + match.start())
            start = match.end()
        keep(offset + start, offset + len(body))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


# Text one review may feed the models when tagging: ~30 long reports' worth. Beyond it the regex
# and TF-IDF passes grow with the text (a 50 MB file took 90 s and 0.9 GiB in the lexicon alone).
DEFAULT_MAX_CHARS = 2_000_000


def sample_ranges(text: str, max_chars: int, parts: int = 16) -> list[tuple[int, int]]:
    """At most `max_chars` characters as `parts` evenly spaced [start, end) slices, each cut at line
    breaks where it can, so a huge file is still read from beginning to end (like the transformer's
    window cap) instead of only its opening pages. Callers report that the cap applied."""
    if len(text) <= max_chars:
        return [(0, len(text))]
    size = max_chars // parts
    margin = -(-size // 4)  # a quarter of a part, rounded up: where a cut may move to a line break
    step = (len(text) - size) / max(parts - 1, 1)
    ranges = []
    for k in range(parts):
        start = int(k * step)
        end = start + size
        if k > 0 and "\n" in text[start : start + size // 4]:
            start = text.index("\n", start) + 1
        if k < parts - 1 and "\n" in text[end - margin : end]:
            end = text.rindex("\n", start, end)
        ranges.append((start, end))
    return ranges


def sample_mapped(text: MappedText, max_chars: int, parts: int = 16) -> MappedText:
    pieces = [text[a:b].strip() for a, b in sample_ranges(text.text, max_chars, parts)]
    return MappedText.join([p for p in pieces if len(p)], "\n\n")


def sample_text(text: str, max_chars: int, parts: int = 16) -> str:
    return sample_mapped(MappedText.of(text), max_chars, parts).text
