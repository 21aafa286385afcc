"""The corrections contract: parsing, every validation error with its line, provenance, the
add/remove arithmetic, the stage that refuses a bad set whole, and `reviewtag correct`."""

import json
import multiprocessing

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.labels.corrections import (
    CorrectionError,
    apply_corrections,
    parse_line,
    read_corrections,
    validate,
)
from pipelines.labels.recording import append_correction, record, remove_line
from pipelines.labels.taxonomy import load_contract
from pipelines.records import read_jsonl, write_jsonl

from .conftest import ROOT

VOCAB = load_contract(ROOT / "data/taxonomy_contract.md")
TEXTS = {
    "r1": "A boy was fatally stabbed. Learning includes: \u201cschool\u201d transition\u00b9 and information sharing.",
    "r2": "Death of a baby while co-sleeping. Learning: safer sleep advice.",
}
KEYWORDS = {"r1": {"harm_type": ["homicide"], "learning_theme": []}, "r2": {"harm_type": [], "learning_theme": []}}


def line(**overrides) -> str:
    fields = {
        "review_id": "r1",
        "task": "harm_type",
        "label": "youth_violence",
        "action": "add",
        "evidence": "A boy was fatally stabbed.",
        "annotator": "reader-1",
        "date": "2026-10-01",
        "note": "",
    }
    return json.dumps(fields | overrides)


def problems_for(folder, *lines, name="reader-1.jsonl") -> list[str]:
    path = folder / name
    path.write_text("".join(text + "\n" for text in lines), encoding="utf-8")
    corrections, problems = read_corrections(folder)
    return problems + validate(corrections, TEXTS, VOCAB)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "malformed line, not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (line(review_id="nope"), "unknown review_id 'nope'"),
        (line(label="knife_crime"), "unknown harm_type label 'knife_crime'"),
        (line(task="theme"), "unknown task 'theme'"),
        (line(action="maybe"), "unknown action 'maybe'"),
        (line(evidence="a girl was stabbed"), "evidence is not a quote of review r1"),
        (line(evidence=""), "an add needs evidence"),
        (line(evidence="stabbed"), "3+ words"),
        (line(date="2999-01-01"), "is in the future"),
        (line(annotator="   "), "missing annotator"),
        (line(review_id=7), "must be a string"),
        (line(action="remove", label="homicide", evidence="", note=""), "a remove needs a reason in note"),
        (line(date="24/11/2026"), "is not YYYY-MM-DD"),
        (line(date="2026-02-30"), "is not YYYY-MM-DD"),
        (line(annotator=""), "missing annotator"),
        (json.dumps(json.loads(line()) | {"extra": 1}), "unknown field(s) extra"),
    ],
)
def test_every_validation_error_names_file_and_line(tmp_path, bad, message):
    problems = problems_for(
        tmp_path,
        line(review_id="r2", label="sudden_unexpected_infant_death", evidence="Death of a baby while co-sleeping."),
        bad,
    )
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'reader-1.jsonl'}:2: ") and message in problems[0]


def test_same_day_opposite_decisions_contradict_and_later_ones_supersede(tmp_path):
    remove = line(action="remove", evidence="", note="not a youth violence case")
    problems = problems_for(tmp_path, line(), remove)
    assert len(problems) == 1 and "contradicts" in problems[0] and ":2:" in problems[0] and ":1 " in problems[0]
    later = line(action="remove", evidence="", note="re-read", date="2026-11-01", annotator="analyst")
    (tmp_path / "reader-1.jsonl").write_text(line() + "\n", encoding="utf-8")
    (tmp_path / "analyst.jsonl").write_text(later + "\n", encoding="utf-8")
    corrections, malformed = read_corrections(tmp_path)
    assert not malformed and not validate(corrections, TEXTS, VOCAB)
    applied = apply_corrections(KEYWORDS, corrections)
    assert applied.labels["r1"]["harm_type"] == ["homicide"]  # the analyst's later remove wins
    assert applied.report["superseded"] == [
        {"line": f"{tmp_path}/reader-1.jsonl:1", "by": f"{tmp_path}/analyst.jsonl:1"}
    ]


def test_quotes_match_through_curly_quotes_footnotes_and_spacing():
    quote = 'Learning includes: "school" transition and\n information sharing.'
    corrections = [parse_line(line(label="education", task="learning_theme", evidence=quote), "f:1")[0]]
    assert validate(corrections, TEXTS, VOCAB) == []


def test_arithmetic_and_provenance():
    lines = [
        line(),  # add youth_violence
        line(action="remove", label="homicide", evidence="", note="not stated"),
        line(task="learning_theme", label="education", evidence="transition and information sharing"),
        line(label="homicide"),  # adds a label r1 already has (from another annotator): no effect
    ]
    corrections = [parse_line(text, f"f:{k}")[0] for k, text in enumerate(lines, 1)]
    corrections[3] = parse_line(line(label="homicide", annotator="reader-2"), "g:1")[0]
    applied = apply_corrections(KEYWORDS, corrections[:2] + corrections[2:3])
    assert applied.labels["r1"] == {"harm_type": ["youth_violence"], "learning_theme": ["education"]}
    assert applied.provenance["r1"]["harm_type"] == {
        "homicide": "keyword_removed_by_reader",
        "youth_violence": "reader_added",
    }
    assert applied.labels["r2"] == KEYWORDS["r2"]
    report = applied.report
    assert report["applied"] == {"add": 2, "remove": 1}
    assert report["per_task_label"]["harm_type"] == {
        "homicide": {"add": 0, "remove": 1},
        "youth_violence": {"add": 1, "remove": 0},
    }
    assert report["per_annotator"] == {"reader-1": {"add": 2, "remove": 1}}
    no_op = apply_corrections(KEYWORDS, [corrections[3]])
    assert no_op.labels["r1"]["harm_type"] == ["homicide"] and no_op.report["no_effect"]["count"] == 1


def _append_many(args):
    path, worker = args
    from pipelines.labels.corrections import Correction

    for k in range(50):
        append_correction(
            path, Correction("r1", "harm_type", "neglect", "add", "x" * (500 + k), f"w{worker}", "2026-11-24")
        )


def test_concurrent_appends_never_interleave_and_undo_removes_exactly_one_line(tmp_path):
    path = tmp_path / "shared.jsonl"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_append_many, [(path, w) for w in range(4)])
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    assert len(rows) == 200 and all(row["review_id"] == "r1" for row in rows)
    target = path.read_text().splitlines(keepends=True)[17]
    assert remove_line(path, target) and len(path.read_text().splitlines()) == 199
    assert target not in path.read_text().splitlines(keepends=True)
    assert not remove_line(path, target)  # nothing left to undo


def test_record_appends_one_validated_line_and_refuses_an_invalid_one(tmp_path):
    fields = json.loads(line())
    path, written = record(fields, TEXTS, VOCAB, tmp_path)
    assert path == tmp_path / "reader-1.jsonl" and path.read_text() == written
    with pytest.raises(CorrectionError, match="contradicts .*undo the other decision first"):
        record(
            fields | {"action": "remove", "evidence": "", "note": "no", "annotator": "reader-2"}, TEXTS, VOCAB, tmp_path
        )
    with pytest.raises(CorrectionError, match="annotator"):
        record(fields | {"annotator": "../../etc/passwd"}, TEXTS, VOCAB, tmp_path)
    assert path.read_text() == written and not (tmp_path / "reader-2.jsonl").exists()


def test_reversing_your_own_decision_the_same_day_replaces_it(tmp_path):
    """An annotator who rejects a label they accepted an hour ago changes their mind; the file then holds
    the new decision only, never a contradiction that would stop the next `dvc repro`."""
    fields = json.loads(line())
    path, _ = record(fields, TEXTS, VOCAB, tmp_path)
    _, second = record(fields | {"action": "remove", "evidence": "", "note": "misread"}, TEXTS, VOCAB, tmp_path)
    assert path.read_text() == second
    found, problems = read_corrections(tmp_path)
    assert not problems and not validate(found, TEXTS, VOCAB) and [c.action for c in found] == ["remove"]


def test_two_tabs_deciding_the_same_label_at_once_cannot_both_pass(tmp_path, monkeypatch):
    """Validation and append happen under one lock: with the read slowed down so that the two
    threads overlap, the second one sees the first one's line and is refused."""
    import threading
    import time

    import pipelines.labels.recording as recording

    slow_read = recording.read_corrections

    def read_slowly(location):
        found = slow_read(location)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(recording, "read_corrections", read_slowly)
    add = json.loads(line())
    remove = add | {"action": "remove", "evidence": "", "note": "not stated", "annotator": "reader-2"}
    outcomes: list[str] = []

    def decide(fields):
        try:
            record(fields, TEXTS, VOCAB, tmp_path)
            outcomes.append("written")
        except CorrectionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=decide, args=(fields,)) for fields in (add, remove)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "written"]
    corrections_on_disk, problems = read_corrections(tmp_path)
    assert len(corrections_on_disk) == 1 and not problems
    assert not validate(corrections_on_disk, TEXTS, VOCAB)


@pytest.fixture()
def labelled_project(tmp_path, monkeypatch):
    """A project folder with the real interim corpus (ingest..dedup) and an empty corrections folder."""
    from .conftest import use_project
    from .helpers import run_stage

    for folder in ("data/raw", "data/corrections"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("taxonomy.yaml", "taxonomy_contract.md"):
        (tmp_path / "data" / name).write_text((ROOT / "data" / name).read_text())
    for raw in (ROOT / "data/raw").glob("00[24]_*.txt"):
        (tmp_path / "data/raw" / raw.name).write_text(raw.read_text())
    use_project(tmp_path, monkeypatch)
    for stage in ("ingest", "clean", "dedup"):
        run_stage(stage)
    return tmp_path


def _first_review(project, year: int) -> dict:
    return next(r for r in read_jsonl(project / "data/interim/dedup.jsonl") if r["year"] == year and r["keywords"])


def test_label_stage_applies_corrections_and_refuses_a_bad_set_whole(labelled_project):
    from .helpers import run_stage

    review = _first_review(labelled_project, 2023)
    quote = review["text"].split(". ")[0]
    good = json.loads(line(review_id=review["review_id"], label="emotional_abuse", evidence=quote))
    write_jsonl(labelled_project / "data/corrections/reader-1.jsonl", [good])
    run_stage("label")
    row = next(
        r for r in read_jsonl(labelled_project / "data/interim/labelled.jsonl") if r["review_id"] == review["review_id"]
    )
    assert "emotional_abuse" in row["harm_type"] and row["harm_type_added"] == ["emotional_abuse"]
    assert "emotional_abuse" not in row["keyword_harm_type"]
    report = json.loads((labelled_project / "data/interim/label_report.json").read_text())
    assert report["corrections"]["per_annotator"] == {"reader-1": {"add": 1, "remove": 0}}
    before = (labelled_project / "data/interim/labelled.jsonl").read_bytes()

    bad = good | {"label": "harmful_sexual_behaviour", "evidence": "words that are not in the review"}
    write_jsonl(labelled_project / "data/corrections/reader-2.jsonl", [good, bad])
    with pytest.raises(SystemExit) as exit_info:
        run_stage("label")
    assert exit_info.value.code == 1
    assert (labelled_project / "data/interim/labelled.jsonl").read_bytes() == before  # nothing half-applied

    (labelled_project / "data/corrections/reader-2.jsonl").unlink()
    run_stage("split")
    from datasets import load_from_disk

    dataset = load_from_disk(str(labelled_project / "data/processed/dataset"))
    for task, ids in VOCAB.items():  # every contract label stays, whatever its support
        assert dataset["train"].features[f"{task}_labels"].feature.names == ids
        assert len(dataset["test"][0][task]) == len(ids) == len(dataset["test"][0][f"keyword_{task}"])
    test_row = next(r for r in dataset["test"] if r["review_id"] == review["review_id"])
    assert test_row["harm_type_added"] == ["emotional_abuse"]
    split_report = json.loads((labelled_project / "data/processed/split_report.json").read_text())
    listed = set(split_report["active_labels"]["harm_type"]) | set(split_report["few_shot_labels"]["harm_type"])
    assert listed == set(VOCAB["harm_type"])


def test_split_does_not_move_when_a_correction_changes_labels(labelled_project):
    from .helpers import run_stage

    def assignment():
        run_stage("label")
        run_stage("split")
        rows = (labelled_project / "data/processed/reviews.csv").read_text().splitlines()
        return [r.split(",")[:3] for r in rows]

    first = assignment()
    review = _first_review(labelled_project, 2021)
    quote = review["text"].split(". ")[0]
    write_jsonl(
        labelled_project / "data/corrections/reader-1.jsonl",
        [json.loads(line(review_id=review["review_id"], label="fabricated_induced_illness", evidence=quote))],
    )
    assert assignment() == first


def test_correct_command(labelled_project):
    runner = CliRunner()
    review = _first_review(labelled_project, 2022)
    quote = review["text"].split(". ")[0]
    args = ["correct", review["review_id"], "--task", "learning_theme", "--annotator", "ana"]
    ok = runner.invoke(app, [*args, "--add", "early_help", "--evidence", quote])
    assert ok.exit_code == 0, ok.output
    written = [json.loads(t) for t in (labelled_project / "data/corrections/ana.jsonl").read_text().splitlines()]
    assert written == [
        {
            "review_id": review["review_id"],
            "task": "learning_theme",
            "label": "early_help",
            "action": "add",
            "evidence": quote,
            "annotator": "ana",
            "date": written[0]["date"],
            "note": "",
        }
    ]
    for bad in (["--add", "not_a_label", "--evidence", quote], ["--remove", "early_help"], ["--add", "early_help"]):
        result = runner.invoke(app, [*args, *bad])
        assert result.exit_code == 1
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("reviewtag: error: ")
    assert len((labelled_project / "data/corrections/ana.jsonl").read_text().splitlines()) == 1
