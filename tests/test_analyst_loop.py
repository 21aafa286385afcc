"""The analysts' loop from the terminal: `reviewtag add` a newly published review, correct it, mark it
`--checked`, and the label and split stages put it in the dataset with the corrected labels, in the split
of its publication year (a year after the test years: `later`), without moving any other review."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.labels.corrections import parse_line, read_corrections
from pipelines.records import read_jsonl

from .conftest import ROOT

NEW_REVIEW = (
    "2024 - Northshire - Child Z\n\n"
    "Child Z, aged 4, lived in a home that was dirty and the children hungry, with chronic neglect of basic "
    "needs. Police attended the home twice after neighbours called. Learning includes the school and "
    "teachers raised concerns that were not shared.\n"
)


@pytest.fixture()
def loop_project(project):
    """`project` (tiny trained models, real params) plus the real NSPCC pages ingested..deduplicated."""
    from .helpers import run_stage

    for folder in ("data/raw", "data/corrections"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "data/taxonomy.yaml", project / "data/taxonomy.yaml")
    for raw in (ROOT / "data/raw").glob("00[24]_*.txt"):
        shutil.copy(raw, project / "data/raw" / raw.name)
    for stage in ("ingest", "clean", "dedup"):
        run_stage(stage)
    (project / "new").mkdir()
    (project / "new/child-z.txt").write_text(NEW_REVIEW, encoding="utf-8")
    return project


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result, result.output


def test_add_correct_check_then_the_dataset_holds_it(loop_project):
    from .helpers import run_stage

    result, out = _invoke("add", "new/child-z.txt", "new/missing.txt")
    assert result.exit_code == 2, out  # one input refused, the other still added
    review_id = out.split("added as ")[1].split(" ")[0]
    assert review_id.startswith("2024-northshire-child-z-") and "missing.txt: not added: no such file" in out
    stored = list((loop_project / "data/raw/added").iterdir())
    assert len(stored) == 1 and stored[0].read_text() == NEW_REVIEW  # byte for byte
    again, out = _invoke("add", "new/child-z.txt")
    assert again.exit_code == 0 and f"already in the corpus as {review_id}" in out

    base = ["correct", review_id, "--annotator", "ana"]
    result, out = _invoke(*base, "--task", "harm_type", "--remove", "neglect", "--note", "read it: not neglect")
    assert result.exit_code == 0, out
    quote = "Police attended the home twice"
    result, out = _invoke(*base, "--task", "harm_type", "--add", "physical_abuse", "--evidence", quote)
    assert result.exit_code == 0, out
    result, out = _invoke(*base, "--task", "harm_type", "--add", "sexual_abuse", "--evidence", "words not in it at all")
    assert result.exit_code == 1 and "evidence is not a quote" in out
    result, out = _invoke(*base, "--checked")
    assert result.exit_code == 0, out

    lines, problems = read_corrections(loop_project / "data/corrections")
    check = next(c for c in lines if c.is_check)
    assert not problems and check.review_id == review_id and check.annotator == "ana"
    assert "neglect" not in check.labels["harm_type"] and "physical_abuse" in check.labels["harm_type"]
    assert "models: " in check.note

    run_stage("ingest")
    run_stage("clean")
    run_stage("dedup")
    before = {r["review_id"]: r for r in read_jsonl(loop_project / "data/interim/dedup.jsonl")}
    assert review_id in before
    run_stage("label")
    row = next(r for r in read_jsonl(loop_project / "data/interim/labelled.jsonl") if r["review_id"] == review_id)
    assert row["checked_by"] == "ana" and row["harm_type"] == check.labels["harm_type"]
    run_stage("split")
    report = json.loads((loop_project / "data/processed/split_report.json").read_text())
    assert report["sizes"]["later"] == 1
    from datasets import load_from_disk

    later = load_from_disk(str(loop_project / "data/processed/dataset"))["later"]
    names = later.features["harm_type_labels"].feature.int2str(later[0]["harm_type_labels"])
    assert list(later["review_id"]) == [review_id] and names == check.labels["harm_type"]


def test_adding_a_review_moves_no_other_review(loop_project):
    from .helpers import run_stage

    def splits() -> dict[str, str]:
        for stage in ("ingest", "clean", "dedup", "label", "split"):
            run_stage(stage)
        rows = (loop_project / "data/processed/reviews.csv").read_text().splitlines()[1:]
        return dict(r.split(",")[:2] for r in rows if r[:1].isdigit() or r[:2] == "nd")

    first = splits()
    result, out = _invoke("add", "new/child-z.txt")
    assert result.exit_code == 0, out
    after = splits()
    assert {k: v for k, v in after.items() if k in first} == first and len(after) == len(first) + 1


def test_a_check_replaces_earlier_decisions_and_later_ones_still_apply():
    from pipelines.labels.corrections import apply_corrections

    def parsed(**fields):
        line = {"review_id": "r1", "annotator": "ana", "date": "2026-11-02", "note": "", "evidence": ""} | fields
        correction, problem = parse_line(json.dumps(line), "x:1")
        assert problem is None, problem
        return correction

    early = parsed(task="harm_type", label="neglect", action="remove", note="no", date="2026-11-01")
    checked = parsed(action="checked", labels={"harm_type": ["neglect"], "learning_theme": []})
    later = parsed(task="harm_type", label="physical_abuse", action="add", evidence="a b c", date="2026-11-03")
    applied = apply_corrections({"r1": {"harm_type": ["sexual_abuse"], "learning_theme": []}}, [later, checked, early])
    assert applied.labels["r1"]["harm_type"] == ["neglect", "physical_abuse"]
    assert applied.checked_by == {"r1": "ana"} and applied.report["checked"]["reviews"] == 1


@pytest.mark.parametrize(
    "line, problem",
    [
        ({"action": "checked", "labels": {"harm_type": []}}, "labels for each task"),
        ({"action": "checked", "labels": {"harm_type": "x", "learning_theme": []}}, "list of label ids"),
        ({"action": "checked", "task": "harm_type", "labels": {"harm_type": [], "learning_theme": []}}, "no task"),
        ({"action": "add", "task": "harm_type", "label": "x", "evidence": "a b c", "labels": {}}, "checked line only"),
    ],
)
def test_malformed_checks_are_refused_with_a_reason(line, problem):
    base = {"review_id": "r1", "annotator": "ana", "date": "2026-11-02"}
    correction, found = parse_line(json.dumps(base | line), "x:1")
    assert correction is None and problem in found
