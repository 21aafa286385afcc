"""Tools for the hand-annotation passes: they show texts and write what a reader decided, nothing more.

No function here looks at a review's words to suggest a label. `show` writes the texts a reader
reads (without keywords or labels), `keywords` writes the keyword labels a reader checks only after
labelling blind, `check` validates a decision file (format, label ids, verbatim quotes), and
`record` turns a reader's decisions into correction lines (`pipelines.corrections`).

Decision file, one JSON object per review:
    {"review_id": "...",
     "harm_type": [{"label": "neglect", "evidence": "verbatim quote"}, ...],
     "learning_theme": [...],
     "keyword_check": [{"task": "harm_type", "label": "homicide", "decision": "keep" | "remove",
                        "evidence": "quote (keep)", "note": "reason (remove)"}],
     "note": "optional"}
The reader's final labels are the blind ones plus the keyword labels they kept.

    python -m pipelines.annotation show --out DIR --batches 5 [--ids FILE]
    python -m pipelines.annotation check DECISIONS.jsonl
    python -m pipelines.annotation record DECISIONS.jsonl --annotator reader-1 --out FILE.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date
from pathlib import Path

from pipelines.records import read_jsonl, write_jsonl
from pipelines.taxonomy import TASKS, load_contract

LABELLED = Path("data/interim/labelled.jsonl")


def labelled_reviews(path: Path = LABELLED) -> dict[str, dict]:
    """Reviews that carry NSPCC keywords (the ones the temporal split uses), by id."""
    return {row["review_id"]: row for row in read_jsonl(path) if row.get("keywords")}


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


def _normal(text: str) -> str:
    from pipelines.text import normalise_unicode

    return " ".join(normalise_unicode(text).split())


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
        text = _normal(reviews[rid]["text"])
        for task in TASKS:
            for item in row.get(task, []):
                if item.get("label") not in contract[task]:
                    problems.append(f"{where}: {task} label {item.get('label')!r} is not in the contract")
                if not item.get("evidence") or _normal(item["evidence"]) not in text:
                    problems.append(f"{where}: {task}/{item.get('label')}: evidence is not a quote of the text")
        for item in row.get("keyword_check", []):
            task, label = item.get("task"), item.get("label")
            if task not in TASKS or label not in reviews[rid].get(task, []):
                problems.append(f"{where}: keyword_check names {task}/{label}, which is not a keyword label")
            elif item.get("decision") == "keep":
                if not item.get("evidence") or _normal(item["evidence"]) not in text:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.annotation", description=__doc__.split("\n")[0])
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
    args = parser.parse_args(argv)

    reviews = labelled_reviews()
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
