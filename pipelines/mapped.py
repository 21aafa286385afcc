"""Text that remembers where each of its characters came from in the document a reader sees.

Parsers cut a review out of a page and cleaning rewrites it (quotes, footnote marks, line breaks),
but evidence must be quoted verbatim from the original. A `MappedText` carries, for every
character, the [start, end) span of the document it was made from, through slicing, joining and
regex substitution, so a span of the cleaned text maps back without searching the document.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Replacement = str | Callable[[re.Match[str]], str]


@dataclass
class MappedText:
    text: str
    starts: array  # starts[i]: document offset where character i's source begins
    ends: array  # ends[i]: document offset where it ends

    @classmethod
    def of(cls, text: str, offset: int = 0) -> MappedText:
        """A text that is itself a slice of the document, starting at `offset`."""
        n = len(text)
        return cls(text, array("q", range(offset, offset + n)), array("q", range(offset + 1, offset + n + 1)))

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, item: slice) -> MappedText:
        return MappedText(self.text[item], self.starts[item], self.ends[item])

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Document span of text[start:end] (a non-empty range)."""
        return int(self.starts[start]), int(self.ends[end - 1])

    @staticmethod
    def join(parts: Iterable[MappedText], separator: str = " ") -> MappedText:
        """Separators map onto the gap between the parts they join."""
        texts, starts, ends = [], array("q"), array("q")
        previous_end = None
        for part in parts:
            if previous_end is not None and separator:
                gap_end = part.starts[0] if len(part) else previous_end
                texts.append(separator)
                starts.extend([previous_end] * len(separator))
                ends.extend([max(gap_end, previous_end)] * len(separator))
            texts.append(part.text)
            starts.extend(part.starts)
            ends.extend(part.ends)
            if len(part):
                previous_end = part.ends[-1]
            elif previous_end is None:
                previous_end = 0
        return MappedText("".join(texts), starts, ends)

    def sub(self, pattern: re.Pattern[str], replacement: Replacement) -> MappedText:
        """re.sub that keeps the mapping: untouched characters keep theirs, every replacement
        character maps to the whole span of the text it replaced."""
        texts, starts, ends = [], array("q"), array("q")
        last = 0
        for match in pattern.finditer(self.text):
            a, b = match.span()
            texts.append(self.text[last:a])
            starts.extend(self.starts[last:a])
            ends.extend(self.ends[last:a])
            new = replacement(match) if callable(replacement) else match.expand(replacement)
            if new:
                lo = self.starts[a] if a < len(self.text) else (self.ends[a - 1] if a else 0)
                hi = self.ends[b - 1] if b > a else lo
                texts.append(new)
                starts.extend([lo] * len(new))
                ends.extend([hi] * len(new))
            last = b
        texts.append(self.text[last:])
        starts.extend(self.starts[last:])
        ends.extend(self.ends[last:])
        return MappedText("".join(texts), starts, ends)

    def strip(self) -> MappedText:
        stripped = self.text.strip()
        if not stripped:
            return self[0:0]
        start = len(self.text) - len(self.text.lstrip())
        return self[start : start + len(stripped)]


_NON_ASCII_RUN = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")


def nfkc_clusters(text: MappedText) -> MappedText:
    """NFKC, keeping each character's source. Normalised run by run: a run of non-ASCII characters
    with the ASCII character before it (which a combining mark may attach to). ASCII characters are
    never changed by NFKC and never compose with what precedes them, so this equals NFKC of the
    whole text; each output character maps to its run's span. ASCII-only text is skipped."""
    if text.text.isascii():
        return text
    return text.sub(_NON_ASCII_RUN, lambda m: unicodedata.normalize("NFKC", m.group(0)))
