"""The `reviewtag` CLI with typer's runner, on tiny models trained in a temporary project folder."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.tagging import CSV_FIELDS

from .conftest import use_project
from .helpers import LABELS, rows_of

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "tag",
        "evaluate",
        "compare",
        "promote",
        "refit",
        "correct",
        "serve",
        "add",
        "agreement",
        "retrain",
    ):
        assert command in result.output


def test_tag_mixed_folder_and_listing_file(project):
    result = runner.invoke(app, ["tag", "inbox", "--model", "tfidf_linear", "-q"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    by_source = {}
    for row in rows:
        by_source.setdefault(row["source"].split(":")[0], []).append(row)
    assert len(by_source["inbox/listing.txt"]) == 5  # a listing page yields one row per review
    assert {"inbox/report.html", "inbox/notes.md", "inbox/latin1.txt"} <= set(by_source)
    html = by_source["inbox/report.html"][0]
    assert "physical_abuse" in html["harm_type"]
    for row in rows:
        assert list(row) == CSV_FIELDS  # JSONL and CSV share one schema, in one order
        assert row["error"] is None and row["notes"] == [] and set(row["scores"]) == {"harm_type", "learning_theme"}
        assert row["model"]["harm_type"]["name"] == "harm_type-tfidf_linear"


def test_evidence_sentences_come_from_the_input(project):
    result = runner.invoke(app, ["tag", "inbox/notes.md", "inbox/report.html", "--model", "lexicon", "-q"])
    assert result.exit_code == 0, result.output
    sources = {
        "inbox/notes.md": (project / "inbox/notes.md").read_text(),
        "inbox/report.html": (project / "inbox/report.html").read_text(),
    }
    rows = rows_of(result.stdout)
    assert any(row["evidence"] for row in rows)
    for row in rows:
        for label, items in row["evidence"].items():
            assert label in row["harm_type"] + row["learning_theme"]
            for item in items:
                assert set(item) == {"text", "start", "end"}
                if row["source"].endswith(".md"):  # plain text: offsets index the file itself
                    assert sources[row["source"]][item["start"] : item["end"]] == item["text"]
                assert " ".join(item["text"].split()) in " ".join(sources[row["source"]].split())
    html = next(r for r in rows if r["source"] == "inbox/report.html")
    assert "evil script" not in json.dumps(html)  # scripts are stripped, never read


def test_bad_file_among_good_ones(project):
    (project / "inbox" / "broken.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (project / "inbox" / "empty.txt").write_text("   \n")
    (project / "inbox" / "corrupt.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    out = project / "tags.jsonl"
    result = runner.invoke(app, ["tag", "inbox", "--model", "tfidf_linear", "-q", "--out", str(out)])
    assert result.exit_code == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    errors = {r["source"]: r["error"] for r in rows if r["error"]}
    assert "binary" in errors["inbox/broken.txt"] and "empty" in errors["inbox/empty.txt"]
    assert "PDF" in errors["inbox/corrupt.pdf"]
    assert sum(1 for r in rows if not r["error"]) == 8  # everything else was tagged
    for name in ("broken.txt", "empty.txt", "corrupt.pdf"):
        assert sum(name in line for line in result.stderr.splitlines()) == 1  # one line per bad file


def test_csv_output_flattens_lists(project):
    out = project / "tags.csv"
    result = runner.invoke(
        app,
        [
            "tag",
            "inbox/notes.md",
            "--model",
            "tfidf_linear",
            "--format",
            "csv",
            "-q",
            "--out",
            str(out),
            "--top-k",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and rows[0]["harm_type"].count(";") == 0
    assert json.loads(rows[0]["scores"])["harm_type"].keys() == set(LABELS)
    assert not list(project.glob(".tags.csv.*.tmp"))


def test_no_model_and_bad_usage(tmp_path, monkeypatch):
    use_project(tmp_path, monkeypatch)
    (tmp_path / "a.txt").write_text("There was neglect.")
    result = runner.invoke(app, ["tag", "a.txt"])
    assert result.exit_code == 1 and "dvc repro" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["tag", "a.txt", "--format", "xml"])
    assert result.exit_code == 1 and "--format" in result.stderr


def test_usage_error_exits_1(monkeypatch):
    from pipelines.cli import main

    monkeypatch.setattr("sys.argv", ["reviewtag", "tag", "--no-such-option"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1


def test_evaluate_on_gold_file(project):
    result = runner.invoke(app, ["evaluate", "--gold", "gold.jsonl", "--model", "tfidf_linear", "--report", "rep"])
    assert result.exit_code == 0, result.output
    report = json.loads((project / "rep/evaluation.json").read_text())
    assert report["n"] == 4 and report["tasks"]["harm_type"]["micro_f1"] >= 0.75
    assert "| neglect |" in (project / "rep/evaluation.md").read_text()
    (project / "bad.jsonl").write_text('{"id": "x", "text": "t", "harm_type": ["not_a_label"]}\n')
    result = runner.invoke(app, ["evaluate", "--gold", "bad.jsonl", "--model", "tfidf_linear"])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.stderr and "not_a_label" in result.stderr


def test_compare_two_models(project):
    result = runner.invoke(
        app, ["compare", "lexicon", "tfidf_linear", "--gold", "gold.jsonl", "--report", "cmp", "--n-boot", "200"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((project / "cmp/compare.json").read_text())
    harm = report["tasks"]["harm_type"]
    assert set(harm["per_label"]) == set(LABELS) and 0 <= harm["mcnemar_p"] <= 1
    for values in harm["per_label"].values():
        assert values["ci_low"] <= values["delta"] <= values["ci_high"]
    assert (project / "cmp/harm_type_f1_side_by_side.png").stat().st_size > 1000
    assert (project / "cmp/harm_type_f1_delta.png").exists()
    markdown = (project / "cmp/compare.md").read_text()
    assert "McNemar" in markdown and "flip" in markdown


def test_promote_moves_the_champion_alias(project, monkeypatch):
    from pipelines import tracking
    from pipelines.config import TrackingConfig

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = TrackingConfig(
        uri=f"sqlite:///{project}/experiments/mlflow.db", artifact_root=str(project / "experiments/mlartifacts")
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", config.uri)
    tracking.configure(config)
    metrics = {"validation": {"micro_f1": 0.5, "macro_f1": 0.5, "samples_f1": 0.5, "per_label": {}}}
    for kind in ("lexicon", "tfidf_linear"):
        run = tracking.log_model_run("harm_type", kind, project / "models/harm_type" / kind, metrics, [], config)
        if kind == "lexicon":
            tracking.set_alias("harm_type", kind, run["version"], "champion")
    assert tracking.get_alias("harm_type", "champion")[0] == "lexicon"
    result = runner.invoke(
        app, ["promote", "tfidf_linear", "--task", "harm_type", "--by", "eve", "--reason", "better on later"]
    )
    assert result.exit_code == 0, result.output
    assert tracking.get_alias("harm_type", "champion")[0] == "tfidf_linear"  # moved, not duplicated
    # the direct read of the SQLite store that `tag` uses agrees with MlflowClient's answer
    assert tracking.get_alias("harm_type", "champion", config.uri) == tracking.get_alias("harm_type", "champion")
    tagged = runner.invoke(app, ["tag", "inbox/notes.md", "-q"])  # champion now resolves through the registry
    assert rows_of(tagged.stdout)[0]["model"]["harm_type"]["name"] == "harm_type-tfidf_linear"
    result = runner.invoke(app, ["promote", "transformer", "--task", "harm_type", "--by", "eve", "--reason", "try"])
    assert result.exit_code == 1 and "no registered versions" in result.stderr


def test_tag_works_from_any_folder(project, tmp_path_factory, monkeypatch):
    """Paths are anchored at the project root (REVIEWTAG_ROOT here), not the current folder."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    report = project / "inbox" / sorted(p.name for p in (project / "inbox").iterdir() if p.suffix == ".txt")[0]
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["tag", str(report), "--model", "lexicon", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows and rows[0]["model"]["harm_type"]["name"] == "harm_type-lexicon"


def test_a_missing_params_file_is_an_error_naming_it(tmp_path, monkeypatch):
    from pipelines.config import ConfigError, SplitConfig, load_section

    monkeypatch.setenv("REVIEWTAG_ROOT", str(tmp_path))
    with pytest.raises(ConfigError, match=str(tmp_path / "params.yaml")):
        load_section("split", SplitConfig)
