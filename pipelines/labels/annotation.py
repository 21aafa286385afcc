"""Tools for the hand-annotation passes: they show texts and write what a reader decided, nothing more.

No function here looks at a review's words to suggest a label. `show` writes the texts a reader
reads (without keywords or labels), `keywords` writes the keyword labels a reader checks only after
labelling blind, `check` validates a decision file (format, label ids, verbatim quotes), and
`record` turns a reader's decisions into correction lines (`pipelines.labels.corrections`).

Decision file, one JSON object per review:
    {"review_id": "...",
     "harm_type": [{"label": "neglect", "evidence": "verbatim quote"}, ...],
     "learning_theme": [...],
     "keyword_check": [{"task": "harm_type", "label": "homicide", "decision": "keep" | "remove",
                        "evidence": "quote (keep)", "note": "reason (remove)"}],
     "note": "optional"}
The reader's final labels are the blind ones plus the keyword labels they kept.

    python -m pipelines.labels.annotation show --out DIR --batches 5 [--ids FILE]
    python -m pipelines.labels.annotation check DECISIONS.jsonl
    python -m pipelines.labels.annotation record DECISIONS.jsonl --annotator reader-1 --out FILE.jsonl
    python -m pipelines.labels.annotation disagreements --out SHEET.md     (the double-read reviews, for adjudication)
    python -m pipelines.labels.annotation adjudicate ADJUDICATION.jsonl    (writes data/corrections/)

Adjudication file, one decision per disputed label (a label in one pass's final set and not the other's):
    {"review_id", "task", "label", "decision": "in" | "out", "evidence": "quote (in)", "note": "why"}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date
from pathlib import Path

from pipelines import paths
from pipelines.labels.corrections import normalise_quote
from pipelines.labels.taxonomy import TASKS, load_contract
from pipelines.records import read_jsonl, write_jsonl


def labelled_reviews(path: Path | None = None) -> dict[str, dict]:
    """Reviews that carry NSPCC keywords (the ones the temporal split uses), by id, with `<task>`
    holding the **keyword** labels: the label stage writes the corrected labels there and the
    keyword ones to `keyword_<task>`, and a reader must check (and differ from) the keyword labels
    only, never an earlier reader's corrections."""
    return {
        row["review_id"]: row | {task: row.get(f"keyword_{task}", row[task]) for task in TASKS}
        for row in read_jsonl(paths.resolve(path or paths.LABELLED))
        if row.get("keywords")
    }


def write_batches(reviews: list[dict], out: Path, batches: int, seed: int) -> list[Path]:
    """Reading sheets: id, year, area, title and the model's text; no keywords, no labels."""
    order = sorted(reviews, key=lambda r: r["review_id"])
    random.Random(seed).shuffle(order)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(batches):
        chunk = order[k::batches]
        sheet = [f"# Batch {k + 1}: {len(chunk)} reviews\n"]
        for row in chunk:
            heading = f"{row['year']} · {row['area']} · {row['title']}"
            sheet.append(f"\n## {row['review_id']}\n\n{heading}\n\n{row['text']}\n")
        path = out / f"batch_{k + 1}.md"
        path.write_text("".join(sheet), encoding="utf-8")
        keyword_sheet = [f"# Batch {k + 1}: keyword labels (open only after the blind labels are written)\n"]
        for row in chunk:
            keyword_sheet.append(
                f"\n## {row['review_id']}\n"
                + "".join(f"- {task}: {', '.join(sorted(row[task])) or '(none)'}\n" for task in TASKS)
            )
        (out / f"batch_{k + 1}_keyword_labels.md").write_text("".join(keyword_sheet), encoding="utf-8")
        (out / f"batch_{k + 1}_ids.txt").write_text("".join(r["review_id"] + "\n" for r in chunk), encoding="utf-8")
        paths.append(path)
    return paths


def load_decisions(paths: list[Path]) -> tuple[dict[str, dict], dict[str, str], list[str]]:
    """Rows merged by review id across files (blind labels in one file, the keyword check made
    afterwards in another), where each row came from, and the lines that are not JSON."""
    merged: dict[str, dict] = {}
    where: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not JSON ({exc.msg})")
                continue
            rid = str(row.get("review_id"))
            target = merged.setdefault(rid, {"review_id": rid})
            for key, value in row.items():
                if key != "review_id" and key in target:
                    problems.append(f"{path}:{number}: review {rid} has a second {key!r}")
                target[key] = value
            where.setdefault(rid, f"{path}:{number}")
    return merged, where, problems


def check_decisions(paths: list[Path], reviews: dict[str, dict], contract: dict[str, list[str]]) -> list[str]:
    """Every problem as 'FILE:LINE: message'; an empty list means the files can be recorded."""
    rows, origin, problems = load_decisions(paths)
    for rid, row in rows.items():
        where = origin[rid]
        if rid not in reviews:
            problems.append(f"{where}: unknown review_id {rid!r}")
            continue
        text = normalise_quote(reviews[rid]["text"])
        for task in TASKS:
            for item in row.get(task, []):
                if item.get("label") not in contract[task]:
                    problems.append(f"{where}: {task} label {item.get('label')!r} is not in the contract")
                if not item.get("evidence") or normalise_quote(item["evidence"]) not in text:
                    problems.append(f"{where}: {task}/{item.get('label')}: evidence is not a quote of the text")
        for item in row.get("keyword_check", []):
            task, label = item.get("task"), item.get("label")
            if task not in TASKS or label not in reviews[rid].get(task, []):
                problems.append(f"{where}: keyword_check names {task}/{label}, which is not a keyword label")
            elif item.get("decision") == "keep":
                if not item.get("evidence") or normalise_quote(item["evidence"]) not in text:
                    problems.append(f"{where}: keyword_check {task}/{label}: keep needs a quote of the text")
            elif item.get("decision") == "remove":
                if not item.get("note"):
                    problems.append(f"{where}: keyword_check {task}/{label}: remove needs a note")
            else:
                problems.append(f"{where}: keyword_check {task}/{label}: decision must be keep or remove")
    return problems


def decisions_to_corrections(rows: list[dict], reviews: dict[str, dict], annotator: str, day: str) -> list[dict]:
    """Blind labels not among the keyword labels become `add`; keyword labels the reader removed
    become `remove`. A keyword label the reader gave blind, or kept, needs no line."""
    lines = []
    for row in rows:
        rid = row["review_id"]
        for task in TASKS:
            keyword = set(reviews[rid].get(task, []))
            for item in row.get(task, []):
                if item["label"] not in keyword:
                    lines.append(_line(rid, task, item["label"], "add", item["evidence"], annotator, day, ""))
        for item in row.get("keyword_check", []):
            if item["decision"] == "remove":
                lines.append(_line(rid, item["task"], item["label"], "remove", "", annotator, day, item["note"]))
    return lines


def _line(rid: str, task: str, label: str, action: str, evidence: str, annotator: str, day: str, note: str) -> dict:
    return {
        "review_id": rid,
        "task": task,
        "label": label,
        "action": action,
        "evidence": evidence,
        "annotator": annotator,
        "date": day,
        "note": note,
    }


PASSES = paths.resolve(paths.PASSES)


def pass_state(reviews: dict[str, dict], name: str) -> tuple[dict, dict]:
    """A raw pass (corrections format) as final labels per review and the evidence or note behind
    each of its decisions."""
    from pipelines.labels.corrections import apply_corrections, read_corrections

    corrections, problems = read_corrections(PASSES / f"{name}.jsonl")
    if problems:
        raise SystemExit("\n".join(problems))
    keyword = {rid: {task: row[task] for task in TASKS} for rid, row in reviews.items()}
    why = {c.key: c.evidence or c.note for c in corrections}
    return apply_corrections(keyword, corrections).labels, why


def disputes(reviews: dict[str, dict], ids: list[str]) -> list[dict]:
    one, why_one = pass_state(reviews, "reader-1")
    two, why_two = pass_state(reviews, "reader-2")
    out = []
    for rid in ids:
        for task in TASKS:
            for label in sorted(set(one[rid][task]) ^ set(two[rid][task])):
                key = (rid, task, label)
                out.append(
                    {
                        "review_id": rid,
                        "task": task,
                        "label": label,
                        "keyword": label in reviews[rid][task],
                        "reader_1": label in one[rid][task],
                        "reader_2": label in two[rid][task],
                        "why_1": why_one.get(key, "(keyword label, kept)" if label in one[rid][task] else ""),
                        "why_2": why_two.get(key, "(keyword label, kept)" if label in two[rid][task] else ""),
                    }
                )
    return out


def write_dispute_sheet(reviews: dict[str, dict], ids: list[str], out: Path) -> int:
    items = disputes(reviews, ids)
    by_review: dict[str, list[dict]] = {}
    for item in items:
        by_review.setdefault(item["review_id"], []).append(item)
    sheet = [f"# Adjudication: {len(items)} disputed labels in {len(by_review)} reviews\n"]
    for rid, found in by_review.items():
        sheet.append(f"\n## {rid}\n\n{reviews[rid]['text']}\n\n")
        for item in found:
            side = "reader-1 has it" if item["reader_1"] else "reader-2 has it"
            sheet.append(
                f"- **{item['task']}/{item['label']}** ({side}; keyword label: {item['keyword']})"
                f" — reader-1: {item['why_1'] or '-'} | reader-2: {item['why_2'] or '-'}\n"
            )
    out.write_text("".join(sheet), encoding="utf-8")
    return len(items)


def adjudicated_corrections(reviews: dict[str, dict], ids: list[str], decisions: list[dict], day: str) -> list[dict]:
    """Final labels on the double-read reviews: what both passes agree on, plus the disputed labels
    decided "in"; written as the lines that take the keyword labels there."""
    one, why_one = pass_state(reviews, "reader-1")
    two, why_two = pass_state(reviews, "reader-2")
    decided = {(d["review_id"], d["task"], d["label"]): d for d in decisions}
    missing = [
        key for key in ((i["review_id"], i["task"], i["label"]) for i in disputes(reviews, ids)) if key not in decided
    ]
    if missing:
        raise SystemExit(f"{len(missing)} disputed labels have no adjudication, e.g. {missing[0]}")
    lines = []
    for rid in ids:
        for task in TASKS:
            agreed = set(one[rid][task]) & set(two[rid][task])
            final = agreed | {
                label for (r, t, label), d in decided.items() if r == rid and t == task and d["decision"] == "in"
            }
            keyword = set(reviews[rid][task])
            for label in sorted(final - keyword):
                d = decided.get((rid, task, label))
                evidence = (
                    (d or {}).get("evidence") or why_one.get((rid, task, label)) or why_two.get((rid, task, label))
                )
                note = "adjudicated" if d else "both passes"
                lines.append(_line(rid, task, label, "add", evidence, "adjudicated", day, note))
            for label in sorted(keyword - final):
                d = decided.get((rid, task, label))
                note = (d or {}).get("note") or why_one.get((rid, task, label)) or why_two.get((rid, task, label))
                lines.append(
                    _line(rid, task, label, "remove", "", "adjudicated", day, note or "removed by both passes")
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.labels.annotation", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="write reading sheets (texts only) and keyword-label sheets")
    show.add_argument("--out", type=Path, required=True)
    show.add_argument("--batches", type=int, default=1)
    show.add_argument("--ids", type=Path, help="only these review ids (one per line)")
    show.add_argument("--seed", type=int, default=7)
    check = sub.add_parser("check", help="validate a decision file")
    check.add_argument("decisions", type=Path, nargs="+")
    record = sub.add_parser("record", help="decision file(s) -> correction lines")
    record.add_argument("decisions", type=Path, nargs="+")
    record.add_argument("--annotator", required=True)
    record.add_argument("--out", type=Path, required=True)
    record.add_argument("--date", default=date.today().isoformat())
    dispute = sub.add_parser("disagreements", help="sheet of the labels the two passes disagree on")
    dispute.add_argument("--out", type=Path, required=True)
    adjudicate = sub.add_parser("adjudicate", help="adjudication decisions -> data/corrections/")
    adjudicate.add_argument("decisions", type=Path)
    adjudicate.add_argument("--date", default=date.today().isoformat())
    args = parser.parse_args(argv)

    reviews = labelled_reviews()
    double_read = [i for i in (PASSES / "reader-2_ids.txt").read_text(encoding="utf-8").split() if i in reviews]
    if args.command == "disagreements":
        print(f"{write_dispute_sheet(reviews, double_read, args.out)} disputed labels -> {args.out}")
        return 0
    if args.command == "adjudicate":
        from pipelines.labels.corrections import read_corrections

        decisions = list(read_jsonl(args.decisions))
        lines = adjudicated_corrections(reviews, double_read, decisions, args.date)
        first, _ = read_corrections(PASSES / "reader-1.jsonl")
        single = [c.to_dict() for c in first if c.review_id not in set(double_read)]
        write_jsonl(paths.resolve(paths.CORRECTIONS) / "reader-1.jsonl", single)
        write_jsonl(paths.resolve(paths.CORRECTIONS) / "adjudicated.jsonl", lines)
        print(f"data/corrections: reader-1.jsonl {len(single)} lines, adjudicated.jsonl {len(lines)} lines")
        return 0
    contract = load_contract()
    if args.command == "show":
        chosen = list(reviews.values())
        if args.ids:
            wanted = set(args.ids.read_text(encoding="utf-8").split())
            chosen = [r for r in chosen if r["review_id"] in wanted]
        for path in write_batches(chosen, args.out, args.batches, args.seed):
            print(path)
        return 0
    problems = check_decisions(args.decisions, reviews, contract)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    rows = list(load_decisions(args.decisions)[0].values())
    if args.command == "check":
        print(f"ok: {len(rows)} reviews decided")
        return 0
    lines = decisions_to_corrections(rows, reviews, args.annotator, args.date)
    write_jsonl(args.out, lines)
    print(f"{len(lines)} correction lines from {len(rows)} reviews -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
