"""Benchmark: `python -m research.bench [--cold]` → experiments/bench.json and experiments/bench.md.

Measures on this machine: tagging throughput per model kind on the 2023 test summaries and on
the full reports, reported beside TF-IDF measured in the same run (ratios survive noisy
machines); model load times; peak memory of the process; `reviewtag --help` start-up; the no-op
`dvc repro`; with --cold, every stage forced one by one (minutes). Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT_JSON = Path("experiments/bench.json")
OUT_MD = Path("experiments/bench.md")
KINDS = ("lexicon", "tfidf_linear", "transformer", "quoted_items", "ensemble")


def _timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def throughput(task: str, summaries: list[str], reports: list[str]) -> dict:
    """Each model alone, every repeat encoding afresh (the encoders' caches of recent calls dropped)."""
    from pipelines.modeling.encoders import forget_recent_embeddings
    from pipelines.modeling.registry import load_classifier

    def cold(model, texts):
        forget_recent_embeddings()
        return model.predict_proba(texts)

    results = {}
    for kind in KINDS:
        directory = Path("models") / task / kind
        if not (directory / "meta.json").exists():
            continue
        started = time.perf_counter()
        model = load_classifier(directory)
        load_s = time.perf_counter() - started
        model.predict_proba(summaries[:4])  # warm-up: lazy init, first-call allocations
        summary_s = _timed(lambda m=model: cold(m, summaries), repeat=2)
        report_s = _timed(lambda m=model: cold(m, reports), repeat=1)
        results[kind] = {
            "load_s": round(load_s, 2),
            "summaries_per_s": round(len(summaries) / summary_s, 1),
            "report_s_each": round(report_s / max(len(reports), 1), 2),
        }
    if "tfidf_linear" in results:
        base = results["tfidf_linear"]["summaries_per_s"]
        for values in results.values():
            values["vs_tfidf"] = round(values["summaries_per_s"] / base, 3)
    return results


def bare_encoder_per_s(summaries: list[str], max_length: int = 256, batch_size: int = 32) -> float:
    """Summaries per second through the base encoder alone (fp32, first 256 tokens, no head, no
    windows, no quantisation): the machine reference the issue asks speeds to be given against,
    since one benchmark box ran the transformer 2.2x faster than another."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from pipelines.config import default_base_model

    path = default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def run() -> None:
        with torch.no_grad():
            for start in range(0, len(summaries), batch_size):
                batch = tokenizer(
                    summaries[start : start + batch_size],
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                )
                model(**batch)

    run()  # warm-up
    return round(len(summaries) / _timed(run, repeat=2), 1)


def command_seconds(args: list[str], repeat: int = 3) -> float:
    return round(_timed(lambda: subprocess.run(args, capture_output=True, check=False), repeat=repeat), 2)


def tag_one_file_seconds(text: str) -> float:
    """`reviewtag tag` on one summary with the champion models, start to finish: what an analyst
    waits for a single file (imports and model loading dominate)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.txt"
        path.write_text(text, encoding="utf-8")
        reviewtag = str(Path(sys.executable).with_name("reviewtag"))
        return command_seconds([reviewtag, "tag", str(path), "-q", "--out", str(Path(folder) / "out.jsonl")], 1)


def cold_stages() -> dict[str, float]:
    listed = subprocess.run(["dvc", "stage", "list", "--name-only"], capture_output=True, text=True, check=True)
    timings = {}
    for stage in listed.stdout.split():
        timings[stage] = command_seconds(["dvc", "repro", "--force", "--single-item", stage], repeat=1)
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also force every DVC stage once and time it")
    args = parser.parse_args(argv)
    from pipelines.corpus.reading import read_path
    from pipelines.dataset import load_task_data

    summaries = load_task_data("harm_type").splits["test"].texts
    reports = [r.text for p in sorted(Path("data/raw").glob("00[03]_*.txt")) for r in read_path(p).reviews]
    result = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
        },
        "inputs": {
            "summaries": len(summaries),
            "reports": len(reports),
            "report_kb": [round(len(r.encode()) / 1024, 1) for r in reports],
        },
        "throughput": {task: throughput(task, summaries, reports) for task in ("harm_type", "learning_theme")},
        "bare_encoder_summaries_per_s": bare_encoder_per_s(summaries),
        "cli_help_s": command_seconds([str(Path(sys.executable).with_name("reviewtag")), "--help"]),
        "cli_tag_one_s": tag_one_file_seconds(summaries[0]),
        "noop_repro_s": command_seconds(["dvc", "repro"], repeat=1),
    }
    for kinds in result["throughput"].values():
        for values in kinds.values():
            values["vs_bare_encoder"] = round(values["summaries_per_s"] / result["bare_encoder_summaries_per_s"], 3)
    if args.cold:
        result["cold_stage_s"] = cold_stages()
        result["cold_total_s"] = round(float(np.sum(list(result["cold_stage_s"].values()))), 1)
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    OUT_MD.write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Benchmark on {m['platform']}, Python {m['python']}, {m['cpus']} CPUs "
        f"({result['inputs']['summaries']} test summaries; full reports of {result['inputs']['report_kb']} KB).",
        "",
        f"Reference: the bare encoder (fp32, 256 tokens, no head) ran {result['bare_encoder_summaries_per_s']} "
        "summaries/s in the same run.",
        "",
        "| task | model | load s | summaries/s | × TF-IDF | × bare encoder | s per full report |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for task, kinds in result["throughput"].items():
        for kind, v in kinds.items():
            lines.append(
                f"| {task} | {kind} | {v['load_s']} | {v['summaries_per_s']} | {v.get('vs_tfidf', '')} | "
                f"{v.get('vs_bare_encoder', '')} | {v['report_s_each']} |"
            )
    lines += [
        "",
        f"`reviewtag --help`: {result['cli_help_s']} s; `reviewtag tag` of one file with the champions, "
        f"start to finish: {result['cli_tag_one_s']} s; no-op `dvc repro`: {result['noop_repro_s']} s; "
        f"peak memory of the benchmark process: {result['peak_rss_mib']} MiB.",
    ]
    if "cold_stage_s" in result:
        lines += [
            "",
            f"Cold `dvc repro`, stage by stage (total {result['cold_total_s']} s):",
            "",
            "| stage | s |",
            "|---|---:|",
        ] + [f"| {k} | {v} |" for k, v in result["cold_stage_s"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
