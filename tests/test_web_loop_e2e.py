"""The analysts' loop end to end in a real browser (Debian's chromium, driven by Playwright): upload a newly
published review, add it to the corpus, reject one label, add one from a selected quote, mark it done and
see the queue move on, export and find the corrections, run a retrain on a tiny configuration, read the
comparison with the champion and promote the retrained version with a reason.

The champion is a registered tfidf_linear per task fitted on 8 reviews; the retrain (tests/retrain_tiny.py,
run by the real retrain runner in place of `dvc repro`) fits the same kind on 80 and registers it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.labels.corrections import read_corrections

from . import web_setup as helpers
from .conftest import ROOT
from .helpers import LABELS, THEME_LABELS
from .test_web_e2e import SELECT, browser, watched_page  # noqa: F401 (fixture)
from .web_setup import ANNOTATOR

loopback = helpers.loopback  # fixture
NEW = {
    "child_z.txt": "2024 - Northshire - Child Z\n\nChild Z, aged 4, lived where the home was dirty and the children "
    "hungry, with chronic neglect of basic needs. Police attended the home twice. Later bruises on a non-mobile "
    "baby sibling were seen. Learning includes that the school and teachers raised concerns.\n",
    "child_y.txt": "2024 - Southshire - Child Y\n\nChild Y, aged 9, suffered a skull fracture and other injuries. "
    "A hospital paediatrician examined her and the court made an order. Learning includes the GP and health "
    "visitors saw the baby.\n",
}
QUOTE = "bruises on a non-mobile baby"


@pytest.fixture()
def loop_server(project, loopback, monkeypatch):
    """A workbench on `champion` (registry version 1 per task), with a retrain command that really trains."""
    from pipelines import tracking
    from pipelines.config import TrackingConfig, load_section
    from pipelines.web.app import create_app

    from .test_retrain import fit_tfidf, write_dataset, write_lock

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    helpers.build_corpus(project)
    data = write_dataset(project, {"train": 60, "validation": 20, "test": 30})
    config = load_section("tracking", TrackingConfig)
    tracking.configure(config)
    outs = {}
    for task, labels in (("harm_type", LABELS), ("learning_theme", THEME_LABELS)):
        train = data["train"]
        fit_tfidf(
            task, labels, train["texts"][:8], np.asarray(train[task])[:8], project / "models" / task / "tfidf_linear"
        )
        outs[f"models/{task}/tfidf_linear"] = f"first-{task}"
    write_lock(project, outs)
    metrics = {"validation": {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0, "per_label": {}}}
    for task in ("harm_type", "learning_theme"):
        run = tracking.log_model_run(
            task, "tfidf_linear", project / "models" / task / "tfidf_linear", metrics, [], config
        )
        tracking.set_alias(task, "tfidf_linear", run["version"], "champion")
    champions = {task: {"kind": "tfidf_linear"} for task in ("harm_type", "learning_theme")}
    (project / "experiments/champions.json").write_text(json.dumps({"champions": champions}))
    (project / "new").mkdir()
    for name, text in NEW.items():
        (project / "new" / name).write_text(text, encoding="utf-8")
    workbench = helpers.make_workbench(project, "champion")
    command = [sys.executable, str(ROOT / "tests/retrain_tiny.py")]
    application = create_app(workbench, allowed_hosts=frozenset({"127.0.0.1"}), retrain_command=command)
    with helpers.serve_in_thread(application) as url:
        yield url, project


def test_new_review_to_promoted_model_in_a_browser(browser, loop_server, tmp_path):  # noqa: F811
    url, project = loop_server
    problems: list[str] = []
    page = watched_page(browser, problems)

    # the analyst names themself once; the browser remembers it
    page.goto(f"{url}/")
    page.fill("#annotator", "ana")
    page.click("#annotator-form button")
    assert page.inner_text("#annotator-file") == "ana"

    # a newly published review: tag it, then add it to the corpus from its page
    page.set_input_files("#files", str(project / "new/child_z.txt"))
    page.click("#tag-button")
    page.wait_for_selector("#results", timeout=60_000)
    assert "child_z.txt" in page.inner_text("#results")
    page.click("a.open >> nth=0")
    page.click("#add-to-corpus button")
    page.wait_for_selector("#recorded")
    assert "Added to the corpus as 2024-northshire-child-z-" in page.inner_text("#recorded")
    review_id = page.inner_text("#review-id")
    # and a second one straight from the queue page
    page.goto(f"{url}/queue")
    page.set_input_files("#queue-add input[type=file]", str(project / "new/child_y.txt"))
    page.click("#queue-add button")
    page.wait_for_selector("#added")
    assert "child_y.txt: added as 2024-southshire-child-y-" in page.inner_text("#added")
    assert "0 of 2 checked" in page.inner_text("#queue-progress")
    page.goto(f"{url}/corpus/{review_id}")

    # reject one label: the panel updates in place, the page does not move
    page.evaluate("window.scrollTo(0, 120)")
    before = page.evaluate("window.scrollY")
    rejected = page.locator("#label-panel .label.status-open form.reject").first
    rejected_label = rejected.locator("input[name=label]").get_attribute("value")
    rejected.locator("input[name=note]").fill("the review never describes this harm")
    rejected.locator("button").click()
    page.wait_for_selector(f'#label-panel .label.status-rejected[data-label="{rejected_label}"]')
    assert "rejected by ana" in page.inner_text(f'#label-panel .label[data-label="{rejected_label}"]')
    assert page.evaluate("window.scrollY") == before

    # add a label from a quote selected in the text
    assert page.evaluate(SELECT, QUOTE), "the quote is not in the page's text"
    page.wait_for_function("q => document.getElementById('quote').value === q", arg=QUOTE)
    added = "physical_abuse" if rejected_label != "physical_abuse" else "sexual_abuse"
    page.select_option("#add-label", f"harm_type:{added}")
    page.click("#add-form button")
    page.wait_for_selector(f'#label-panel .label[data-label="{added}"] .reader.ok')
    assert "by ana" in page.inner_text(f'#label-panel .label[data-label="{added}"]')
    assert page.evaluate("window.scrollY") == before
    page.keyboard.press("j")  # keys move between label rows
    assert page.evaluate("document.activeElement.classList.contains('label')")
    page.screenshot(path=str(tmp_path / "loop_review.png"), full_page=False)

    # done: the queue moves on to the other review
    page.click("#done")
    page.wait_for_url(f"{url}/corpus/2024-southshire-child-y-*")
    assert "1 of 2 checked" in page.inner_text("#queue-progress")

    # the export carries the analyst's work
    page.goto(f"{url}/")
    page.click("#batches a >> nth=0")
    with page.expect_download() as download:
        page.click("#export-sheet")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 1 and f"-harm_type/{rejected_label}" in rows[0]["reader_changes"]
    assert f"+harm_type/{added}" in rows[0]["reader_changes"] and added in rows[0]["reader_harm_type"]
    assert not any(cell.startswith(("{", "[")) for cell in rows[0].values())  # no JSON in a cell

    # retrain on the tiny configuration, read the comparison, promote with a reason
    page.goto(f"{url}/retrain")
    page.click("#start-retrain")
    page.wait_for_selector("#report", timeout=120_000)
    report = page.inner_text("#report")
    assert "harm_type" in report and "tfidf_linear version 2" in report
    promote = page.locator("form.promote").first
    task = promote.locator("input[name=task]").get_attribute("value")
    promote.locator("input[name=reason]").fill("better on the 2023 test split")
    promote.locator("button").click()
    page.wait_for_selector("#promoted")
    page.screenshot(path=str(tmp_path / "loop_retrain.png"), full_page=True)

    from pipelines import tracking

    kind, version, _ = tracking.get_alias(task, "champion")
    tags = tracking.version_tags(task, kind, version)
    assert version == "2" and tags["promoted_by"] == "ana" and tags["promoted_reason"].startswith("better")
    found, bad = read_corrections(project / "data/corrections")
    assert bad == [] and {c.annotator for c in found} == {"ana"}
    assert [c.action for c in found if c.review_id == review_id] == ["remove", "add", "checked"]
    check = next(c for c in found if c.is_check)
    assert added in check.labels["harm_type"] and rejected_label not in check.labels["harm_type"]
    assert not (project / "data/corrections" / f"{ANNOTATOR}.jsonl").exists()  # the page's name, not serve's
    assert problems == []  # no dialog, no console error (a CSP violation would be one)
