"""Bad input never crashes a batch or loses work: each bad file gets one clear line and an error row
(or a skip with its reason in the ingest report), and every good file beside it is still read."""

import builtins
import json
import os
import resource

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.corpus.raw import ingest
from pipelines.text import DEFAULT_MAX_CHARS, sample_text

from .conftest import FIXTURES

runner = CliRunner()
REPORT = (
    "Serious case review: Child Z. The health visitor saw bruising on the baby and the home was dirty; "
    "information was not shared between agencies and the father was never assessed.\n"
)
# file name -> the words its one error line must contain
BAD = {
    "empty.txt": "empty",
    "blank.txt": "empty",
    "binary.txt": "binary",
    "corrupt.pdf": "corrupt PDF",
    "scanned.pdf": "OCR",
    "locked.pdf": "password-protected",
    "unreadable.txt": "permission denied",
    "pipe.txt": "not a regular file",
    ".hidden.txt": "hidden file",
    "loop": "symlink loop",
}


def _pdf(path, password: str | None = None) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)  # a page with no text layer, like a scan
    if password:
        writer.encrypt(password)
    with open(path, "wb") as handle:
        writer.write(handle)


def make_inbox(folder, monkeypatch) -> list[str]:
    """Every kind of bad input beside good ones; returns the good files' names."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text(" \n\t \r\n  ")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <</Type /Catalog>> garbage")
    _pdf(folder / "scanned.pdf")
    _pdf(folder / "locked.pdf", password="secret")
    (folder / ".hidden.txt").write_text(REPORT)
    os.mkfifo(folder / "pipe.txt")  # opening it would block forever
    (folder / "loop").mkdir()
    (folder / "loop" / "again").symlink_to("..", target_is_directory=True)
    unreadable = folder / "unreadable.txt"
    unreadable.write_text(REPORT)
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if str(file).endswith("unreadable.txt"):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
    good = {
        "cp1252.txt": ("The child\u2019s mother said the baby was neglected. " + REPORT).encode("cp1252"),
        "bom.txt": b"\xef\xbb\xbf" + REPORT.encode("utf-8"),
        "Child Ä report – final.txt": REPORT.encode("utf-8"),
        "page.html": (
            "<html><head><style>p {color: red}</style><script>alert('evil script')</script></head>"
            f"<body><p>{REPORT}</p><script>document.write('evil script')</script></body></html>"
        ).encode(),
        "listing.txt": "\n".join(
            line.split("Keywords")[0] for line in (FIXTURES / "mixed/listing.txt").read_text().splitlines()
        ).encode("utf-8"),
    }
    for name, data in good.items():
        (folder / name).write_bytes(data)
    return sorted(good)


def test_tag_reports_each_bad_input_once_and_tags_the_rest(project, monkeypatch):
    good = {name: f"bad/{name}" for name in make_inbox(project / "bad", monkeypatch)}
    out = project / "tags.jsonl"
    result = runner.invoke(app, ["tag", "bad", "--model", "lexicon", "-q", "--out", str(out)])
    assert result.exit_code == 2, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    errors = {row["source"]: row["error"] for row in rows if row["error"]}
    lines = result.stderr.splitlines()
    for name, words in BAD.items():
        hits = [source for source in errors if source.startswith(f"bad/{name}")]
        assert len(hits) == 1 and words in errors[hits[0]], (name, errors)
        assert sum(f"bad/{name}" in line and words in line for line in lines) == 1, (name, lines)
    tagged = [row for row in rows if not row["error"]]
    tagged_files = {row["source"].split(":")[0] for row in tagged}
    assert tagged_files == set(good.values())
    assert sum(row["source"].startswith("bad/listing.txt") for row in tagged) == 5  # entries without keywords
    by_file = {row["source"].split(":")[0]: row for row in tagged}
    assert "neglect" in by_file[good["cp1252.txt"]]["harm_type"]
    quoted = [item["text"] for items in by_file[good["cp1252.txt"]]["evidence"].values() for item in items]
    assert any("child\u2019s mother" in text for text in quoted)  # verbatim: the curly quote survives
    assert not by_file[good["bom.txt"]]["title"].startswith("\ufeff")
    assert "evil script" not in json.dumps(by_file[good["page.html"]])  # scripts stripped, never run
    assert "physical_abuse" in by_file[good["Child Ä report – final.txt"]]["harm_type"]


def test_a_50_mb_file_is_tagged_within_a_stated_cap(project):
    paragraph = REPORT * 40 + "\n"
    with open(project / "huge.txt", "w", encoding="utf-8") as handle:
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(paragraph)
    (project / "small.txt").write_text(REPORT)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = runner.invoke(app, ["tag", "huge.txt", "small.txt", "--model", "lexicon", "-q"])
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code == 0, result.output
    rows = {row["source"]: row for row in (json.loads(line) for line in result.stdout.splitlines())}
    assert set(rows) == {"huge.txt", "small.txt"}
    assert "capped at 2,000,000" in rows["huge.txt"]["notes"][0] and rows["small.txt"]["notes"] == []
    assert "physical_abuse" in rows["huge.txt"]["harm_type"]
    assert sum("huge.txt" in line and "capped" in line for line in result.stderr.splitlines()) == 1
    assert grown_mib < 1024  # the 50 MB text is read once; the models see at most 2 M characters


def test_sample_text_keeps_beginning_middle_and_end():
    text = "".join(f"line {i:07d}\n" for i in range(400_000))  # 5.2 M characters
    sampled = sample_text(text, DEFAULT_MAX_CHARS)
    assert len(sampled) <= DEFAULT_MAX_CHARS
    assert sampled.startswith("line 0000000") and sampled.rstrip().endswith("line 0399999")
    assert all(f"line 0{k}" in sampled for k in range(4))  # every 100,000 lines is read from
    assert all(line.startswith("line ") and len(line) == 12 for line in sampled.split("\n") if line)
    assert sample_text("short", 1000) == "short"


def test_ingest_counts_and_explains_every_skip(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    good = make_inbox(raw, monkeypatch)
    reviews, report = ingest(raw, 64 * 1024 * 1024)
    skipped = {s["source"]: s["reason"] for s in report["skipped"]}
    for name, words in BAD.items():
        hits = [source for source in skipped if source.startswith(name)]
        assert len(hits) == 1 and words in skipped[hits[0]], (name, skipped)
    assert report["found"] == report["parsed"] + len(report["skipped"])
    assert {r.source.split(":")[0] for r in reviews} == set(good)
    listing = [r for r in reviews if r.source.startswith("listing.txt")]
    assert len(listing) == 5 and not any(r.keywords for r in listing)
    assert report["with_keywords"] == 0


def test_ingest_refuses_files_over_the_size_limit(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "big.txt").write_text(REPORT * 20)
    (raw / "ok.txt").write_text(REPORT)
    reviews, report = ingest(raw, 1024)
    assert [r.source for r in reviews] == ["ok.txt"]
    assert report["skipped"][0]["source"] == "big.txt" and "limit" in report["skipped"][0]["reason"]


@pytest.mark.parametrize("spec", ["../../etc/passwd", "models:/no-such-model@champion", "nonexistent-kind"])
def test_bad_model_specs_fail_cleanly(project, spec):
    (project / "a.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", "a.txt", "--model", spec])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "error" in result.stderr
