"""compare.md: the retrain compare report as an evaluator reads it (compare.json holds the same figures)."""

from __future__ import annotations


def _who(model: dict | None) -> str:
    if not model:
        return "none"
    return f"{model['kind']} version {model.get('version') or '(not registered)'}"


def _value(cell: dict, key: str) -> str:
    value = cell.get(key)
    return "" if value is None else f"{value:+.3f}" if key == "delta" else f"{value:.3f}"


def _overall(split: dict) -> list[str]:
    if split.get("champion") is None:
        head = ["| metric | candidate |", "|---|---:|"]
        return head + [f"| {m} | {split['candidate'][m]:.3f} |" for m in ("micro_f1", "macro_f1", "samples_f1")]
    lines = ["| metric | champion | candidate | Δ | 95% CI |", "|---|---:|---:|---:|---|"]
    for name, v in split["overall"].items():
        interval = f"[{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]"
        lines.append(f"| {name} | {v['champion']:.3f} | {v['candidate']:.3f} | {v['delta']:+.3f} | {interval} |")
    return lines


def _candidate_labels(split: dict) -> list[str]:
    lines = ["| label | n | precision | recall | F1 |", "|---|---:|---:|---:|---:|"]
    for label, v in split["per_label"].items():
        p, r, f = (v[m]["candidate"] for m in ("precision", "recall", "f1"))
        lines.append(f"| {label} | {v['support']} | {p:.3f} | {r:.3f} | {f:.3f} |")
    return lines


def _labels(split: dict) -> list[str]:
    if split.get("champion") is None:
        return _candidate_labels(split)
    lines = [
        "| label | n | P champion → candidate | R champion → candidate | F1 champion | F1 candidate | ΔF1 "
        "| gained (right) | lost (right) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    flips = split.get("flips", {}).get("per_label", {})
    for label, v in split["per_label"].items():
        p, r, f = v["precision"], v["recall"], v["f1"]
        moved = flips.get(label, {})
        lines.append(
            f"| {label} | {v['support']} | {_value(p, 'champion')} → {_value(p, 'candidate')} | "
            f"{_value(r, 'champion')} → {_value(r, 'candidate')} | {_value(f, 'champion')} | "
            f"{_value(f, 'candidate')} | {_value(f, 'delta')} | "
            f"{moved.get('gained', 0)} ({moved.get('gained_right', 0)}) | "
            f"{moved.get('lost', 0)} ({moved.get('lost_right', 0)}) |"
        )
    return lines


def _flips(split: dict) -> list[str]:
    flips = split.get("flips")
    if not flips:
        return []
    lines = [f"Reviews whose labels change: {flips['reviews']}; for example:", ""]
    for item in flips["examples"]:
        gained, lost = ", ".join(item["gained"]) or "-", ", ".join(item["lost"]) or "-"
        lines.append(f"- `{item['review_id']}`: gains {gained}; loses {lost}")
    return lines + [""]


def _split(name: str, split: dict) -> list[str]:
    if "note" in split:
        return [f"### {name}: {split['note']}", ""]
    lines = [f"### {split['title']} ({split['n']} reviews)", ""] + _overall(split) + [""]
    if split.get("champion") is not None:
        lines.append(f"Paired McNemar test over the label decisions: p = {split['mcnemar_p']:.4f}")
        lines.append("")
    lines += _labels(split) + [""] + _flips(split)
    return lines + [f"![{f}]({f})" for f in split.get("figures", [])] + [""]


def markdown(report: dict) -> str:
    lines = [f"# Retrain {report['job_id']}: retrained models vs @{report['alias']}", ""]
    for item in report["alias_restored"]:
        lines.append(
            f"- {item['task']}: the evaluate stage moved @{report['alias']} to {_who(item['moved_to'])}; "
            f"put back to {_who(item['restored_to'])} (nothing is promoted without Promote)"
        )
    for item in report["promote"]:
        lines.append(f"- Promote {item['task']}: `{item['command']}`")
    lines.append("")
    for task, result in report["tasks"].items():
        lines += [f"## {task}: candidate {_who(result['candidate'])}, champion {_who(result['champion'])}", ""]
        lines += [f"- {note}" for note in result["notes"]] + [""]
        for name, split in result.get("splits", {}).items():
            lines += _split(name, split)
    return "\n".join(lines).rstrip() + "\n"
