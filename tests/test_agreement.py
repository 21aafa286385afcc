"""Annotator agreement: kappa by hand, perfect and undefined agreement, how a check and a decision
combine into one annotator's judgement, the disputes, `reviewtag agreement` and the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from typer.testing import CliRunner

from pipelines.cli_agreement import agreement
from pipelines.labels.agreement import (
    NO_ITEMS,
    POOLED,
    UNDEFINED,
    agreement_context,
    annotator_agreement,
    judgements,
)
from pipelines.labels.corrections import Correction, parse_line
from pipelines.labels.kappa import cohen_kappa

from .conftest import ROOT

VOCAB = {"harm_type": ["neglect", "physical_abuse", "sexual_abuse"], "learning_theme": ["early_help", "education"]}
TEMPLATES = ROOT / "pipelines" / "web" / "templates"


def decision(rid: str, label: str, action: str, who: str, day: str = "2026-10-01", **extra) -> dict:
    task = "learning_theme" if label in VOCAB["learning_theme"] else "harm_type"
    evidence = "the child was left alone for days" if action == "add" else ""
    note = "" if action == "add" else "not in the text"
    fields = {"review_id": rid, "task": task, "label": label, "action": action, "evidence": evidence}
    return fields | {"annotator": who, "date": day, "note": note} | extra


def check(rid: str, who: str, harm: list[str], themes: list[str] = (), day: str = "2026-10-01") -> dict:
    labels = {"harm_type": list(harm), "learning_theme": list(themes)}
    fields = {"review_id": rid, "task": "", "label": "", "action": "checked", "evidence": ""}
    return fields | {"labels": labels, "annotator": who, "date": day, "note": "read in full"}


def parsed(*rows: dict) -> list[Correction]:
    """Through the contract's parser, so every line here is one the label stage would accept."""
    out = []
    for number, row in enumerate(rows, start=1):
        correction, problem = parse_line(json.dumps(row), f"test.jsonl:{number}")
        assert problem is None, problem
        out.append(correction)
    return out


def row(report, label: str, task: str = "harm_type", pair: int = 0):
    found = report.pairs[pair]
    return found.pooled[task] if label == POOLED else next(a for a in found.labels if a.label == label)


def hand_example() -> list[Correction]:
    """Ten reviews, label neglect. A: present on r1-r4. B: present on r1-r3 and r5."""
    rows = []
    for k in range(1, 11):
        rows.append(decision(f"r{k:02d}", "neglect", "add" if k <= 4 else "remove", "A"))
        rows.append(decision(f"r{k:02d}", "neglect", "add" if k <= 3 or k == 5 else "remove", "B"))
    return parsed(*rows)


def test_kappa_on_a_hand_computed_example():
    # agree on r1-r3 (both present) and r6-r10 (both absent): observed = 8/10 = 0.80
    # p(A present) = 4/10, p(B present) = 4/10
    # expected = 0.4 * 0.4 + 0.6 * 0.6 = 0.16 + 0.36 = 0.52
    # kappa = (0.80 - 0.52) / (1 - 0.52) = 0.28 / 0.48 = 0.58333...
    report = annotator_agreement(hand_example(), VOCAB)
    neglect = row(report, "neglect")
    assert (neglect.n, neglect.agreed, neglect.both_present) == (10, 8, 3)
    assert neglect.agreement == 0.8
    assert neglect.kappa == pytest.approx(0.5833, abs=1e-4)
    assert neglect.kappa_note == ""
    assert row(report, POOLED).kappa == neglect.kappa  # the only label judged
    assert row(report, POOLED, "learning_theme").kappa is None
    assert row(report, POOLED, "learning_theme").kappa_note == NO_ITEMS


def test_audit_uses_the_same_kappa():
    from pipelines.labels import audit

    assert audit.cohen_kappa is cohen_kappa
    assert cohen_kappa([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]) == 0.5833


def test_perfect_agreement():
    rows = [check("r1", who, ["neglect"], ["education"]) for who in ("A", "B")]
    rows += [check("r2", who, ["physical_abuse"], []) for who in ("A", "B")]
    report = annotator_agreement(parsed(*rows), VOCAB)
    assert row(report, "neglect").kappa == 1.0 and row(report, "neglect").agreement == 1.0
    pooled = row(report, POOLED)
    assert (pooled.n, pooled.reviews, pooled.agreed, pooled.kappa) == (6, 2, 6, 1.0)
    assert report.disputes == []


def test_kappa_is_undefined_without_variance():
    # both checked r1 and r2 and neither found sexual abuse: 2 items, agreement 1.0, kappa undefined
    rows = [check(rid, who, ["neglect"] if rid == "r1" else []) for rid in ("r1", "r2") for who in ("A", "B")]
    report = annotator_agreement(parsed(*rows), VOCAB)
    sexual = row(report, "sexual_abuse")
    assert (sexual.n, sexual.agreement, sexual.kappa) == (2, 1.0, None)
    assert sexual.kappa_note == UNDEFINED
    assert row(report, "neglect").kappa == 1.0  # present on r1, absent on r2: there is variance


def test_one_constant_annotator_is_flagged():
    # A: present on all 4; B: present on 3 -> observed 0.75, expected 0.75, kappa 0 (and it says why)
    rows = [decision(f"r{k}", "neglect", "add", "A") for k in range(4)]
    rows += [decision(f"r{k}", "neglect", "add" if k else "remove", "B") for k in range(4)]
    neglect = row(annotator_agreement(parsed(*rows), VOCAB), "neglect")
    assert (neglect.agreement, neglect.kappa) == (0.75, 0.0)
    assert "A gave every item the same judgement" in neglect.kappa_note


def test_check_and_decision_precedence():
    rows = [
        decision("r1", "neglect", "add", "A", day="2026-09-01"),  # overruled by A's own later check
        check("r1", "A", [], day="2026-09-02"),
        decision("r1", "physical_abuse", "add", "A", day="2026-09-02"),  # same day as the check: the check wins
        decision("r1", "education", "add", "A", day="2026-09-03"),  # after the check: applies, as in the label stage
        decision("r2", "neglect", "remove", "A"),
        decision("r2", "neglect", "add", "A", day="2026-10-02"),  # the latest decision wins
    ]
    judged = judgements(parsed(*rows), VOCAB)["A"]
    assert judged[("r1", "harm_type", "neglect")].present is False
    assert judged[("r1", "harm_type", "neglect")].source == "checked"
    assert judged[("r1", "harm_type", "physical_abuse")].present is False
    assert judged[("r1", "learning_theme", "education")].present is True
    assert judged[("r1", "learning_theme", "early_help")].present is False  # a check judges every label
    assert judged[("r2", "harm_type", "neglect")].present is True
    assert ("r2", "harm_type", "physical_abuse") not in judged  # a decision judges its own label only


def test_only_labels_both_judged_are_compared():
    rows = [check("r1", "A", ["neglect"]), decision("r1", "neglect", "remove", "B")]
    rows += [decision("r1", "education", "add", "B"), decision("r9", "neglect", "add", "C")]
    report = annotator_agreement(parsed(*rows), VOCAB)
    assert [(p.first, p.second) for p in report.pairs] == [("A", "B")]  # C shares no review
    assert [(a.task, a.label, a.n) for a in report.pairs[0].labels] == [
        ("harm_type", "neglect", 1),
        ("learning_theme", "education", 1),
    ]
    assert row(report, POOLED).n == 1  # A's check judged 3 harm labels, B only one


def test_disputes_list_each_annotators_judgement():
    rows = [
        decision("r2", "neglect", "add", "A", evidence="the baby was not fed for days"),
        decision("r2", "neglect", "remove", "B", note="the neglect was historic"),
        check("r2", "C", ["neglect"], ["education"]),
        check("r1", "A", ["physical_abuse"]),
        check("r1", "B", ["physical_abuse"], ["early_help"]),
    ]
    disputes = annotator_agreement(parsed(*rows), VOCAB).disputes
    assert [(d.review_id, d.task, d.label) for d in disputes] == [
        ("r1", "learning_theme", "early_help"),
        ("r2", "harm_type", "neglect"),
    ]
    neglect = disputes[1].judgements
    assert [(j.annotator, j.present, j.source) for j in neglect] == [
        ("A", True, "add"),
        ("B", False, "remove"),
        ("C", True, "checked"),
    ]
    assert neglect[0].evidence == "the baby was not fed for days" and neglect[1].note == "the neglect was historic"


def write_folder(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir()
    for who in sorted({r["annotator"] for r in rows}):
        lines = [json.dumps(r) + "\n" for r in rows if r["annotator"] == who]
        (folder / f"{who}.jsonl").write_text("".join(lines), encoding="utf-8")
    return folder


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(agreement)
    return app


def test_cli_prints_the_table_and_writes_json(tmp_path):
    rows = [r.to_dict() for r in hand_example()]
    rows += [r | {"date": "2026-10-02"} for r in (check("r20", "A", []), check("r20", "B", []))]
    folder = write_folder(tmp_path / "corrections", rows)
    out = tmp_path / "agreement.json"
    result = CliRunner().invoke(cli(), ["--corrections", str(folder), "--json", str(out)])
    assert result.exit_code == 0, result.output
    neglect = next(line for line in result.output.splitlines() if " neglect " in line)
    assert neglect.split()[-3:] == ["11", "0.82", "0.61"]  # r20 adds a both-absent item to the ten
    assert "undef." in result.output  # e.g. sexual_abuse: both checked r20, neither found it
    assert "disputed: 2 label(s) on 2 review(s)" in result.output
    assert "  r04" in result.output.splitlines() and "  r05" in result.output.splitlines()
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [(p["first"], p["second"]) for p in report["pairs"]] == [("A", "B")]
    assert [d["review_id"] for d in report["disputes"]] == ["r04", "r05"]
    labels = {a["label"]: a for a in report["pairs"][0]["labels"]}
    assert labels["sexual_abuse"]["kappa"] is None and labels["sexual_abuse"]["kappa_note"] == UNDEFINED


def test_cli_refuses_a_malformed_folder(tmp_path):
    folder = tmp_path / "corrections"
    folder.mkdir()
    (folder / "A.jsonl").write_text("{not json\n", encoding="utf-8")
    result = CliRunner().invoke(cli(), ["--corrections", str(folder)])
    assert result.exit_code == 1 and "not JSON" in result.output


def test_the_page_renders_the_table_and_links_disputes():
    rows = [
        decision("r/2", "neglect", "add", "A", evidence="<script>alert(1)</script> was found"),
        decision("r/2", "neglect", "remove", "B"),
        check("r1", "A", ["neglect"]),
        check("r1", "B", ["neglect"]),
    ]
    context = agreement_context(parsed(*rows), VOCAB)
    assert context["disputed_labels"] == 1 and context["disputes"][0]["url"] == "/corpus/r%2F2"
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    html = env.get_template("agreement.html").render(
        **context, annotator="tester", corrections_dir="data/corrections", default_models=[]
    )
    assert "A / B" in html and "<em>undefined</em>" in html and UNDEFINED in html
    assert 'href="/corpus/r%2F2"' in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html  # autoescaped evidence
    assert html.count('class="label-row"') == len([r for r in context["pairs"][0]["rows"] if not r["pooled"]])


def test_the_page_without_pairs():
    context = agreement_context(parsed(check("r1", "A", [])), VOCAB)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    html = env.get_template("agreement.html").render(**context, annotator="t", corrections_dir="c", default_models=[])
    assert 'id="no-pairs"' in html and 'id="no-disputes"' in html
