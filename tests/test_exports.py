"""Rows carry the thresholds they were decided at, and exports carry the analyst's work: reader labels
beside the model's, the page's label filter, and a CSV a spreadsheet opens without JSON in any cell."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.exports import export_rows, reader_labels_for
from pipelines.labels.corrections import parse_line
from pipelines.tagging import CSV_FIELDS, render, shown_score

from .helpers import LABELS, THEME_LABELS, rows_of
from .test_fidelity import _inputs

runner = CliRunner()
SCORE_COLUMNS = [f"harm_type:{x}" for x in LABELS] + [f"learning_theme:{x}" for x in THEME_LABELS]


def _tune(project) -> None:
    """Give the saved tfidf models uneven thresholds and a recall operating point, as tuning would."""
    for task in ("harm_type", "learning_theme"):
        path = project / "models" / task / "tfidf_linear" / "meta.json"
        meta = json.loads(path.read_text())
        meta["thresholds"] = [0.3375, 0.45, 0.6125]
        meta["extra"]["operating_points"] = {"recall": [0.2125, 0.35, 0.4], "precision": [0.55, 0.6, 0.7]}
        path.write_text(json.dumps(meta))


def _tagged(project, *args: str) -> list[dict]:
    result = runner.invoke(app, ["tag", *args, "-q"])
    assert result.exit_code == 0, result.output
    return rows_of(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "lexicon"],
        ["--model", "tfidf_linear"],
        ["--model", "tfidf_linear", "--operating-point", "recall", "--threshold-scale", "0.9"],
    ],
)
def test_score_at_or_over_its_threshold_is_exactly_a_given_label(project, args):
    _tune(project)
    _inputs(project / "fidelity")  # two full reports (long-document thresholds) and three short texts
    rows = _tagged(project, "fidelity", "inbox", *args)  # through JSON, as a reader gets them
    assert len(rows) == 13 and all(row["schema_version"] == 4 for row in rows)
    for row in rows:
        for task in ("harm_type", "learning_theme"):
            thresholds, scores = row["thresholds"][task], row["scores"][task]
            assert set(thresholds) == set(scores) and all(0 <= t <= 1 for t in thresholds.values())
            assert set(row[task]) == {label for label, s in scores.items() if s >= thresholds[label]}, row["source"]
    assert any(row["harm_type"] or row["learning_theme"] for row in rows)
    themes = {json.dumps(row["thresholds"]["learning_theme"], sort_keys=True) for row in rows}
    assert len(themes) == 2  # full reports need more for a theme (params: theme_threshold_scale 1.5)
    low, high = sorted((json.loads(t) for t in themes), key=lambda t: sum(t.values()))
    assert high == {label: pytest.approx(min(1.0, t * 1.5)) for label, t in low.items()}
    if "0.9" in args:
        assert low["education"] == pytest.approx(0.2125 * 0.9)


def test_a_score_is_never_rounded_across_its_threshold():
    assert shown_score(0.49996, 0.5) == 0.49996  # 4 decimals would show 0.5 for a label not given
    assert shown_score(0.51236, 0.5) == 0.5124
    assert shown_score(0.5, 0.5) == 0.5


def _sheet(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_sheet_has_a_column_per_label_and_no_json(project):
    rows = _tagged(project, "inbox", "--model", "tfidf_linear")
    content, media, suffix = export_rows(rows, "sheet")
    assert media.startswith("text/csv") and suffix == ".csv"
    header = next(csv.reader(io.StringIO(content.decode())))
    scores = [name for name in header if name.count(":") == 1]
    assert scores == SCORE_COLUMNS
    assert header == ["source", "document", "review_id", "title", "harm_type", "learning_theme"] + [
        name for s in SCORE_COLUMNS for name in (s, f"{s}:threshold")
    ] + ["evidence", "model", "notes", "error"]
    sheet = _sheet(content)
    assert len(sheet) == len(rows)
    for line, row in zip(sheet, rows, strict=True):
        for cell in line.values():
            assert "\n" not in cell and not cell.startswith(("{", "["))
        assert line["harm_type"] == "; ".join(row["harm_type"])
        for task, labels in row["scores"].items():
            for label, score in labels.items():
                assert line[f"{task}:{label}"] == f"{score:.3f}"  # 3 decimals, a number to a spreadsheet
                assert float(line[f"{task}:{label}:threshold"]) == row["thresholds"][task][label]
        quotes = line["evidence"].split(" | ") if line["evidence"] else []
        assert [q.split(":")[0] for q in quotes] == [
            x for x in row["harm_type"] + row["learning_theme"] if row["evidence"].get(x)
        ]
    assert any(line["evidence"] for line in sheet)


def test_full_csv_is_the_tag_layout_and_excel_guards_formulas(project):
    rows = _tagged(project, "inbox", "--model", "tfidf_linear")
    assert export_rows(rows, "csv")[0].decode() == render(rows, "csv")  # existing readers keep working
    rows[0] = rows[0] | {"title": '=HYPERLINK("http://x")', "notes": ["@SUM(A1)", "-2+3"]}
    for fmt in ("csv", "sheet"):
        plain = export_rows(rows, fmt)[0]
        assert not plain.startswith(b"\xef\xbb\xbf") and '"=HYPERLINK(""http://x"")"' in plain.decode()
        content = export_rows(rows, fmt, excel=True)[0]
        assert content.startswith(b"\xef\xbb\xbf")
        text = content.decode("utf-8-sig")
        records = list(csv.reader(io.StringIO(text, newline="")))
        again = io.StringIO(newline="")
        csv.writer(again, lineterminator="\r\n").writerows(records)
        assert again.getvalue() == text and len(records) == len(rows) + 1  # every line ends CRLF
        first = _sheet(content)[0]
        assert first["title"] == '\'=HYPERLINK("http://x")' and first["notes"].startswith("'@SUM")
        cells = [cell for line in csv.reader(io.StringIO(text)) for cell in line]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    with pytest.raises(ValueError, match="excel"):
        export_rows(rows, "jsonl", excel=True)


def _line(**fields) -> str:
    return json.dumps({"annotator": "reader-1", "date": "2025-03-01"} | fields)


def _corrections(a: dict, b: dict, added: str) -> list:
    """On review a: remove its first harm, add `added`. On review b: an add, then a check that
    replaces it, then a later add that still applies."""
    quote = "a quote of several words"
    lines = [
        _line(review_id=a["review_id"], task="harm_type", label=a["harm_type"][0], action="remove", note="no"),
        _line(review_id=a["review_id"], task="harm_type", label=added, action="add", evidence=quote),
        _line(review_id=b["review_id"], task="harm_type", label="neglect", action="add", evidence=quote),
        _line(
            review_id=b["review_id"],
            action="checked",
            labels={"harm_type": ["sexual_abuse"], "learning_theme": []},
            date="2025-03-02",
        ),
        _line(
            review_id=b["review_id"],
            task="learning_theme",
            label="education",
            action="add",
            evidence=quote,
            date="2025-03-03",
        ),
    ]
    parsed = [parse_line(text, f"r.jsonl:{k}") for k, text in enumerate(lines, 1)]
    assert [problem for _, problem in parsed] == [None] * len(lines)
    return [c for c, _ in parsed]


def _reader_case(project) -> tuple[list[dict], dict, dict, str, dict]:
    rows = _tagged(project, "inbox", "--model", "tfidf_linear")
    a = next(r for r in rows if len(r["harm_type"]) == 1)
    added = next(x for x in LABELS if x not in a["harm_type"])
    b = next(r for r in rows if r is not a)
    return rows, a, b, added, reader_labels_for(rows, _corrections(a, b, added))


def test_reader_labels_and_changes_from_a_remove_an_add_and_a_check(project):
    rows, a, b, added, readers = _reader_case(project)
    assert set(readers) == {r["review_id"] for r in rows}
    assert readers[a["review_id"]] == {"harm_type": [added], "learning_theme": a["learning_theme"]}
    assert readers[b["review_id"]] == {"harm_type": ["sexual_abuse"], "learning_theme": ["education"]}
    untouched = next(r for r in rows if r["review_id"] not in (a["review_id"], b["review_id"]))
    assert readers[untouched["review_id"]] == {t: untouched[t] for t in ("harm_type", "learning_theme")}
    sheet = {line["review_id"]: line for line in _sheet(export_rows(rows, "sheet", readers)[0])}
    assert sheet[a["review_id"]]["reader_harm_type"] == added
    assert sheet[a["review_id"]]["reader_changes"] == f"+harm_type/{added}; -harm_type/{a['harm_type'][0]}"
    expected = ["+harm_type/sexual_abuse"] * ("sexual_abuse" not in b["harm_type"])
    expected += [f"-harm_type/{x}" for x in b["harm_type"] if x != "sexual_abuse"]
    expected += ["+learning_theme/education"] * ("education" not in b["learning_theme"])
    expected += [f"-learning_theme/{x}" for x in b["learning_theme"] if x != "education"]
    assert sheet[b["review_id"]]["reader_changes"] == "; ".join(expected)
    assert sheet[untouched["review_id"]]["reader_changes"] == ""
    full = _sheet(export_rows(rows, "csv", readers)[0])
    assert list(full[0]) == CSV_FIELDS + ["reader_harm_type", "reader_learning_theme", "reader_changes"]
    jsonl = [json.loads(line) for line in export_rows(rows, "jsonl", readers)[0].decode().splitlines()]
    assert jsonl[rows.index(b)]["reader"] == readers[b["review_id"]]
    assert all("reader" not in row for row in rows_of(export_rows(rows, "jsonl")[0].decode()))


def test_label_filter_keeps_rows_where_only_the_reader_gives_it(project):
    rows, a, _, added, readers = _reader_case(project)
    by_model = [r["review_id"] for r in rows if added in r["harm_type"]]
    kept = [r["review_id"] for r in rows_of(export_rows(rows, "jsonl", readers, label=added)[0].decode())]
    assert a["review_id"] in kept and a["review_id"] not in by_model
    assert set(kept) == set(by_model) | {rid for rid, r in readers.items() if added in r["harm_type"]}
    alone = [r["review_id"] for r in rows_of(export_rows(rows, "jsonl", label=added)[0].decode())]
    assert alone == by_model
    sheet = _sheet(export_rows(rows, "sheet", readers, label="education")[0])
    assert sheet and all("education" in (line["learning_theme"] + line["reader_learning_theme"]) for line in sheet)


def test_cli_writes_the_sheet_layout(project):
    out = project / "tags.csv"
    result = runner.invoke(
        app, ["tag", "inbox", "--model", "tfidf_linear", "-q", "--out", str(out), "--csv-layout", "sheet", "--excel"]
    )
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and b"\r\n" in content
    sheet = _sheet(content)
    assert len(sheet) == 8 and set(SCORE_COLUMNS) <= set(sheet[0]) and "scores" not in sheet[0]
    result = runner.invoke(app, ["tag", "inbox/notes.md", "--model", "tfidf_linear", "-q", "--out", str(out)])
    assert result.exit_code == 0 and list(_sheet(out.read_bytes())[0]) == CSV_FIELDS  # the suffix picks CSV
    result = runner.invoke(app, ["tag", "inbox/notes.md", "--model", "tfidf_linear", "--csv-layout", "sheet"])
    assert result.exit_code == 1 and "--csv-layout" in result.stderr
