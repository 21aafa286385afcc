"""Input fidelity: evidence is a verbatim slice of the document a reader sees, and text in any
Unicode encoding (with or without a byte-order mark) is read as text."""

import json
import random

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.corpus.documents import DocumentError, decode_bytes
from pipelines.tagging import emitted_name

from .conftest import RAW
from .helpers import rows_of

runner = CliRunner()
REPORT_HEAD = "".join(next(RAW.glob("000_*.txt")).read_text(encoding="utf-8").splitlines(keepends=True)[:60])


def _inputs(folder):
    folder.mkdir()
    for raw in sorted(RAW.glob("00[03]_*.txt")):  # the two full reports
        (folder / raw.name).write_bytes(raw.read_bytes())
    (folder / "cp1252.txt").write_bytes(REPORT_HEAD.encode("cp1252", errors="replace"))
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbf" + REPORT_HEAD.replace("\n", "\r\n").encode("utf-8"))
    paragraphs = "".join(f"<p>{line}</p>\n" for line in REPORT_HEAD.splitlines())
    (folder / "page.html").write_text(
        f"<html><head><style>p{{}}</style></head><body><script>alert('x')</script>{paragraphs}</body></html>",
        encoding="utf-8",
    )


def test_every_evidence_item_is_its_slice_of_the_document(project):
    _inputs(project / "fidelity")
    result = runner.invoke(app, ["tag", "fidelity", "--model", "lexicon", "-q", "--emit-text", "texts"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert len(rows) == 5 and all(row["schema_version"] == 4 for row in rows)
    checked = 0
    for row in rows:
        with open(project / "texts" / emitted_name(row["document"]), encoding="utf-8", newline="") as handle:
            document = handle.read()
        for label, items in row["evidence"].items():
            assert label in row["harm_type"] + row["learning_theme"]
            for item in items:
                assert document[item["start"] : item["end"]] == item["text"]
                checked += 1
    assert checked >= 40
    # the original characters survive: footnote marks, curly quotes and Windows line breaks
    report = next(r for r in rows if r["source"].endswith(next(RAW.glob("000_*.txt")).name))
    from pipelines.text import normalise_unicode

    # (a quote holds characters the cleaned text the models read does not: footnote marks, dashes, quotes)
    quotes = [
        i["text"] for row in rows if row["source"].endswith(".txt") for items in row["evidence"].values() for i in items
    ]
    assert report["evidence"] and any(normalise_unicode(text) != text for text in quotes)
    html = next(r for r in rows if r["source"].endswith("page.html"))
    assert "alert" not in json.dumps(html)


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_unicode_encodings_decode_to_the_same_text(encoding):
    assert decode_bytes(REPORT_HEAD.encode(encoding)) == REPORT_HEAD


def test_each_encoding_of_one_review_is_tagged_identically(project):
    folder = project / "encodings"
    folder.mkdir()
    for encoding in ENCODINGS:
        (folder / f"{encoding}.txt").write_bytes(REPORT_HEAD.encode(encoding))
    result = runner.invoke(app, ["tag", "encodings", "--model", "lexicon", "-q"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert len(rows) == len(ENCODINGS) and all(row["error"] is None for row in rows)
    comparable = {
        json.dumps({k: row[k] for k in ("harm_type", "learning_theme", "scores", "evidence")}) for row in rows
    }
    assert len(comparable) == 1
    assert rows[0]["harm_type"] or rows[0]["learning_theme"]


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_still_binary(seed):
    data = random.Random(seed).randbytes(4096)
    with pytest.raises(DocumentError, match="binary data|byte-order mark"):
        decode_bytes(data)
    with pytest.raises(DocumentError, match="binary data"):  # a UTF-8 BOM does not make it text
        decode_bytes(b"\xef\xbb\xbf" + data)


def test_nfkc_keeps_compositions_and_maps_them_back():
    from pipelines.mapped import MappedText
    from pipelines.text import clean_mapped

    for raw in ("\u1100\u1161 x", "\u304b\u3099 y", "e\u20d7\u0327 z", "\ufb01rst \u00e9t\u00e9"):
        import unicodedata

        mapped = clean_mapped(MappedText.of(raw))
        assert mapped.text == unicodedata.normalize("NFKC", raw)
        assert raw[slice(*mapped.span(0, len(mapped)))] == raw


def test_utf16_with_nul_free_script_is_not_mistaken_for_binary():
    text = "\u0915\u0948\u0938\u0947 \u0939\u094b? " * 100 + "Neglect was identified."  # Devanagari: few NUL bytes
    assert decode_bytes(text.encode("utf-16")) == text
