"""`reviewtag retrain`: a job runs a command under the lock with its log and status, refuses a second start,
survives a killed runner; the compare report sets a retrained model against the registered champion
(figures checked against an independent scoring); promote records who and why on the version."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from pipelines import retraining

from .conftest import use_project
from .helpers import LABELS, THEME_LABELS, THEME_PHRASES, synthetic

DVC_YAML = {"stages": {"prepare": {"cmd": "true"}, "train": {"foreach": ["x", "y"], "do": {"cmd": "true"}}}}


def tiny_command(body: str) -> list[str]:
    return [sys.executable, "-c", body]


@pytest.fixture()
def root(tmp_path, monkeypatch) -> Path:
    """A project with a three-stage dvc.yaml and no MLflow store (so no champion)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    return use_project(tmp_path, monkeypatch)


def wait_for(job: retraining.RetrainJob, states: tuple[str, ...], timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job.status()
        if state["state"] in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job.id} still {job.status()['state']} after {timeout} s")


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Until the runner has exited (and so released the lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"runner {pid} still alive")


def test_a_job_runs_with_progress_log_and_status_then_done(root):
    body = "import time; print(\"Running stage 'prepare':\", flush=True); time.sleep(1.5); print('trained')"
    job = retraining.start("ana", tiny_command(body), root=root)
    running = wait_for(job, ("running",))
    deadline = time.monotonic() + 10
    while running["stage"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
        running = job.status()
    assert (running["stage"], running["stage_index"], running["stage_count"]) == ("prepare", 1, 3)
    assert running["by"] == "ana" and running["finished"] is None
    assert retraining.latest(root)["id"] == job.id
    done = wait_for(job, ("done", "failed"))
    assert done["state"] == "done", done
    assert done["returncode"] == 0 and done["finished"] >= done["started"]
    log = job.log.read_text()
    assert "Running stage 'prepare':" in log and "trained" in log
    report = json.loads((job.folder / "compare.json").read_text())
    assert report["job_id"] == job.id and report["promote"] == []
    assert all(task["candidate"] is None for task in report["tasks"].values())  # no champions.json here
    assert done["champion_before"] == {"harm_type": None, "learning_theme": None}
    assert (job.folder / "compare.md").read_text().startswith(f"# Retrain {job.id}")
    assert [j["id"] for j in retraining.jobs(root)] == [job.id]


def test_a_second_start_is_refused_while_one_holds_the_lock(root):
    first = retraining.start("ana", tiny_command("import time; time.sleep(3)"), root=root)
    with pytest.raises(retraining.RetrainBusy, match=first.id):
        retraining.start("ben", tiny_command("print('never')"), root=root)
    assert retraining.running(root)["id"] == first.id
    with pytest.raises(retraining.RetrainBusy):  # the evaluate stage would fight over the alias
        retraining.promote("harm_type", "tfidf_linear", "1", "ana", "better", alias="champion")
    assert wait_for(first, ("done", "failed"))["state"] == "done"
    wait_gone(first.pid)
    assert retraining.running(root) is None
    assert len(retraining.jobs(root)) == 1  # the refused start made no job


def test_a_failing_command_fails_with_the_log_tail(root):
    body = "import sys; print('loading'); sys.stderr.write('boom: stage train failed\\n'); sys.exit(3)"
    job = retraining.start("ana", tiny_command(body), root=root)
    state = wait_for(job, ("done", "failed"))
    assert state["state"] == "failed" and state["returncode"] == 3
    assert "exited with status 3" in state["error"] and "boom: stage train failed" in state["log_tail"]
    assert not (job.folder / "compare.json").exists()


def test_a_killed_runner_leaves_no_stale_lock(root):
    job = retraining.start("ana", tiny_command("print('started', flush=True); import time; time.sleep(60)"), root=root)
    wait_for(job, ("running",))
    while "started" not in job.log.read_text():
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # the runner and its command, as a crash or kill -9 would
    wait_gone(job.pid)
    state = job.status()
    assert state["state"] == "failed" and "ended without finishing" in state["error"]
    again = retraining.start("ben", tiny_command("print('ok')"), root=root)  # the kernel dropped the lock
    assert wait_for(again, ("done", "failed"))["state"] == "done"


def test_cli_retrain_prints_stages_and_the_report(root, monkeypatch):
    import typer

    from pipelines.cli_retrain import jobs, retrain

    app = typer.Typer()
    app.command()(retrain)
    app.command()(jobs)
    body = "print(\"Running stage 'prepare':\"); print(\"Stage 'train@x' didn't change, skipping\")"
    monkeypatch.setattr(retraining, "DEFAULT_COMMAND", tiny_command(body))
    result = CliRunner().invoke(app, ["retrain", "--by", "cara"])
    assert result.exit_code == 0, result.output
    assert "stage 2/3: train@x skipped" in result.stderr
    assert result.stdout.strip().endswith("compare.md")
    listed = CliRunner().invoke(app, ["jobs"])
    assert "done" in listed.stdout and "by cara" in listed.stdout
    monkeypatch.setattr(retraining, "DEFAULT_COMMAND", tiny_command("import sys; sys.exit('no dvc.lock')"))
    failed = CliRunner().invoke(app, ["retrain"])
    assert failed.exit_code == 1 and "no dvc.lock" in failed.stderr


# ---------------------------------------------------------------------------------------------------
# The compare step and promote, on tiny TF-IDF models registered in a temporary MLflow store.
# ---------------------------------------------------------------------------------------------------

SPLIT_SIZES = {"train": 60, "validation": 30, "test": 30, "later": 12}


def write_dataset(project: Path, splits: dict[str, int]) -> dict[str, dict]:
    """data/processed/dataset with both tasks' columns; returns {split: {ids, texts, harm_type, learning_theme}}."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    vocab = {"harm_type": LABELS, "learning_theme": THEME_LABELS}
    features = Features(
        {"review_id": Value("string"), "text": Value("string"), "fold": Value("int32")}
        | {task: Sequence(Value("int8"), length=len(ids)) for task, ids in vocab.items()}
        | {f"keyword_{task}": Sequence(Value("int8"), length=len(ids)) for task, ids in vocab.items()}
        | {f"{task}_labels": Sequence(ClassLabel(names=ids)) for task, ids in vocab.items()}
    )
    out, parts = {}, {}
    for seed, (name, n) in enumerate(splits.items()):
        harm_texts, harm = synthetic(n, seed=10 + seed)
        theme_texts, theme = synthetic(n, seed=20 + seed, labels=THEME_LABELS, phrases=THEME_PHRASES)
        texts = [f"{a} {b}" for a, b in zip(harm_texts, theme_texts, strict=True)]
        ids = [f"{name}-{i}" for i in range(n)]
        out[name] = {"ids": ids, "texts": texts, "harm_type": harm, "learning_theme": theme}
        columns = {"review_id": ids, "text": texts, "fold": [-1] * n}
        for task, y in (("harm_type", harm), ("learning_theme", theme)):
            columns |= {task: y.tolist(), f"keyword_{task}": y.tolist()}
            columns[f"{task}_labels"] = [[vocab[task][j] for j in np.flatnonzero(row)] for row in y]
        parts[name] = Dataset.from_dict(columns, features=features)
    target = project / "data/processed/dataset"
    shutil.rmtree(target, ignore_errors=True)
    DatasetDict(parts).save_to_disk(str(target))
    return out


def fit_tfidf(task: str, labels: list[str], texts: list[str], y: np.ndarray, directory: Path):
    from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier

    shutil.rmtree(directory, ignore_errors=True)
    model = TfidfLinearClassifier(task, labels, {"min_df": 1, "max_features": 2000, "char_ngram_max": 0})
    model.fit(texts, y).save(directory)
    return model


def write_lock(project: Path, md5s: dict[str, str]) -> None:
    """dvc.lock as `dvc repro` leaves it: the md5 of each model directory (ties a run to its files)."""
    stages = {f"train@{out}": {"outs": [{"path": out, "md5": md5}]} for out, md5 in md5s.items()}
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


@pytest.fixture()
def registry_project(tmp_path, monkeypatch):
    """harm_type: champion = version 1 (fitted on 8 reviews), retrained = version 2 (fitted on 60) over the
    same files; learning_theme: no champion, retrained = version 1. The evaluate stage's alias moves are
    simulated, and the job folder is experiments/retrain/<id>."""
    from pipelines import retrain_registry, tracking
    from pipelines.config import TrackingConfig, load_section

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    use_project(tmp_path, monkeypatch)
    data = write_dataset(tmp_path, SPLIT_SIZES)
    config = load_section("tracking", TrackingConfig)
    tracking.configure(config)
    metrics = {"validation": {"micro_f1": 0.5, "macro_f1": 0.5, "samples_f1": 0.5, "per_label": {}}}
    harm_dir, theme_dir = tmp_path / "models/harm_type/tfidf_linear", tmp_path / "models/learning_theme/tfidf_linear"
    train = data["train"]
    write_lock(tmp_path, {"models/harm_type/tfidf_linear": "aaa"})
    weak = fit_tfidf("harm_type", LABELS, train["texts"][:8], train["harm_type"][:8], harm_dir)
    first = tracking.log_model_run("harm_type", "tfidf_linear", harm_dir, metrics, [], config)
    tracking.set_alias("harm_type", "tfidf_linear", first["version"], "champion")
    before = retrain_registry.snapshot()  # what the runner notes before the repro
    write_lock(tmp_path, {"models/harm_type/tfidf_linear": "bbb", "models/learning_theme/tfidf_linear": "ccc"})
    strong = fit_tfidf("harm_type", LABELS, train["texts"], train["harm_type"], harm_dir)
    fit_tfidf("learning_theme", THEME_LABELS, train["texts"], train["learning_theme"], theme_dir)
    for task, directory in (("harm_type", harm_dir), ("learning_theme", theme_dir)):
        run = tracking.log_model_run(task, "tfidf_linear", directory, metrics, [], config)
        tracking.set_alias(task, "tfidf_linear", run["version"], "champion")  # as the evaluate stage does
    champions = {task: {"kind": "tfidf_linear"} for task in ("harm_type", "learning_theme")}
    (tmp_path / "experiments").mkdir(exist_ok=True)
    (tmp_path / "experiments/champions.json").write_text(json.dumps({"champions": champions}))
    folder = tmp_path / "experiments/retrain/20250102T030405Z"
    folder.mkdir(parents=True)
    return {"root": tmp_path, "data": data, "before": before, "weak": weak, "strong": strong, "folder": folder}


def independent(model, task: str, labels: list[str], split: dict) -> tuple[np.ndarray, dict]:
    """Decisions and scores computed here, without the report's code."""
    from pipelines.evaluation.scoring import scores

    pred = model.decide(model.predict_proba(split["texts"]))
    return pred, scores(split[task], pred, labels)


def test_compare_report_sets_the_retrained_model_against_the_registered_champion(registry_project):
    from pipelines import retrain_registry, tracking
    from pipelines.retrain_compare import NO_LATER, build_report, write_report

    p = registry_project
    assert p["before"] == {"harm_type": {"kind": "tfidf_linear", "version": "1", "md5": "aaa"}, "learning_theme": None}
    restored = retrain_registry.restore(p["before"])
    assert {r["task"] for r in restored} == {"harm_type", "learning_theme"}
    assert tracking.get_alias("harm_type", "champion")[:2] == ("tfidf_linear", "1")  # put back
    assert tracking.get_alias("learning_theme", "champion") is None  # there was none before
    report = write_report(p["folder"], p["folder"].name, p["before"], restored, n_boot=100)
    assert json.loads((p["folder"] / "compare.json").read_text()) == json.loads(json.dumps(report))
    harm = report["tasks"]["harm_type"]
    assert harm["candidate"]["version"] == "2" and harm["champion"] == {"kind": "tfidf_linear", "version": "1"}
    assert [(c["task"], c["version"]) for c in report["promote"]] == [("harm_type", "2"), ("learning_theme", "1")]
    for name in ("validation", "test", "later"):
        split, truth = harm["splits"][name], p["data"][name]
        assert split["n"] == SPLIT_SIZES[name]
        champ_pred, champ = independent(p["weak"], "harm_type", LABELS, truth)  # v1 came from the registry
        cand_pred, cand = independent(p["strong"], "harm_type", LABELS, truth)
        assert split["overall"]["micro_f1"]["champion"] == champ["micro_f1"]
        assert split["overall"]["macro_f1"]["candidate"] == cand["macro_f1"]
        for j, label in enumerate(LABELS):
            row = split["per_label"][label]
            assert row["f1"]["champion"] == champ["per_label"][label]["f1"]
            assert row["recall"]["candidate"] == cand["per_label"][label]["recall"]
            assert row["precision"]["delta"] == pytest.approx(
                cand["per_label"][label]["precision"] - champ["per_label"][label]["precision"], abs=1e-4
            )
            gained = int((cand_pred[:, j] & ~champ_pred[:, j]).sum())
            lost = int((champ_pred[:, j] & ~cand_pred[:, j]).sum())
            flips = split["flips"]["per_label"].get(label, {"gained": 0, "lost": 0, "gained_examples": []})
            assert (flips["gained"], flips["lost"]) == (gained, lost)
            assert set(flips["gained_examples"]) <= {truth["ids"][i] for i in np.flatnonzero(cand_pred[:, j])}
    test = harm["splits"]["test"]
    assert any(row["f1"]["delta"] != 0 for row in test["per_label"].values())
    assert test["flips"]["reviews"] > 0 and test["overall"]["macro_f1"]["delta"] > 0  # 60 reviews beat 8
    assert all((p["folder"] / f).is_file() for f in test["figures"]) and test["figures"]
    theme = report["tasks"]["learning_theme"]
    assert theme["champion"] is None and any("no champion" in note for note in theme["notes"])
    assert theme["splits"]["test"]["champion"] is None and theme["splits"]["test"]["candidate"]["n"] == 30
    markdown = (p["folder"] / "compare.md").read_text()
    assert "reviewtag promote models:/harm_type-tfidf_linear/2" in markdown and "McNemar" in markdown
    write_dataset(p["root"], {k: v for k, v in SPLIT_SIZES.items() if k != "later"})
    without = build_report("x", p["before"], [], out=None, n_boot=20)
    assert without["tasks"]["harm_type"]["splits"]["later"] == {"note": NO_LATER}


def test_promote_moves_the_alias_and_records_who_and_why(registry_project):
    from mlflow import MlflowClient

    from pipelines import tracking
    from pipelines.cli import app

    for by, reason in (("", "better"), ("ana", "  ")):
        with pytest.raises(ValueError):
            retraining.promote("harm_type", "tfidf_linear", "2", by, reason)
    with pytest.raises(ValueError, match="no registered version 9"):
        retraining.promote("harm_type", "tfidf_linear", "9", "ana", "better")
    assert tracking.get_alias("harm_type", "champion")[:2] == ("tfidf_linear", "2")  # still the fixture's
    tracking.set_alias("harm_type", "tfidf_linear", "1", "champion")
    done = retraining.promote("harm_type", "tfidf_linear", "2", "ana", "recall up on 2023", job_id="20250102T030405Z")
    tags = MlflowClient().get_model_version("harm_type-tfidf_linear", "2").tags
    assert tags["promoted_by"] == "ana" and tags["promoted_reason"] == "recall up on 2023"
    assert tags["retrain_job"] == "20250102T030405Z" and tags["promoted_from"] == "tfidf_linear version 1"
    assert tags["promoted_at"].endswith("Z") and tags == done["tags"]
    assert tracking.get_alias("harm_type", "champion")[:2] == ("tfidf_linear", "2")
    runner = CliRunner()
    refused = runner.invoke(app, ["promote", "models:/learning_theme-tfidf_linear/1", "--by", "ben"])
    assert refused.exit_code != 0 and tracking.get_alias("learning_theme", "champion")[:2] == ("tfidf_linear", "1")
    result = runner.invoke(
        app, ["promote", "models:/harm_type-tfidf_linear/1", "--by", "ben", "--reason", "roll back: too many flips"]
    )
    assert result.exit_code == 0, result.output
    assert tracking.get_alias("harm_type", "champion")[:2] == ("tfidf_linear", "1")
    assert MlflowClient().get_model_version("harm_type-tfidf_linear", "1").tags["promoted_by"] == "ben"
