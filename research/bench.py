"""Benchmark: `python -m research.bench [--cold] [--repeat N]` → experiments/bench.json, experiments/bench.md.

Measured on this machine, in one run, so that every speed can be given against references measured
beside it (machines differ by 3x here between sessions):
- encoders: a bare PyTorch fp32 forward pass of MiniLM (first 256 tokens of each summary, no head; the
  reference) and the same inputs through the ONNX export (onnxruntime), summaries/s; report items/s
  through each backend;
- every model kind per task and backend: summaries/s, seconds per full report, load seconds;
- cold processes, the median of `--repeat` (3): `reviewtag tag` of one summary and of the 70 KB report
  with the champion and with the lexicon, with the peak RSS of each process; `reviewtag --help`;
- the workbench: start to the first uploaded summary tagged (median of `--repeat` fresh servers);
- with --cold, every stage forced one by one (minutes).
Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT_JSON = Path("experiments/bench.json")
OUT_MD = Path("experiments/bench.md")
REPORT_70KB = next(iter(sorted(Path("data/raw").glob("003_*.txt"))), None)


def _best(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def encoder_speeds(summaries: list[str], items: list[str]) -> dict:
    """The bare PyTorch fp32 forward pass (the reference) and the ONNX export on the same token ids."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from pipelines.config import EncoderConfig, default_base_model
    from pipelines.modeling.encoders import FrozenEncoder, export_onnx
    from pipelines.modeling.encoding import padded
    from pipelines.modeling.onnx_encoder import OnnxEncoder

    torch.set_num_threads(2)
    path = default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    ids = tokenizer(summaries, truncation=True, max_length=256)["input_ids"]
    item_ids = tokenizer(items, truncation=True, max_length=64)["input_ids"]

    def torch_pass(windows: list[list[int]]) -> None:
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        with torch.inference_mode():
            for start in range(0, len(order), 32):
                batch, mask = padded([windows[i] for i in order[start : start + 32]], tokenizer.pad_token_id)
                model(input_ids=torch.from_numpy(batch), attention_mask=torch.from_numpy(mask))

    with tempfile.TemporaryDirectory() as folder:
        frozen = FrozenEncoder(path, EncoderConfig())
        frozen.fp32_model.save_pretrained(folder)
        frozen.tokenizer.save_pretrained(folder)
        export_onnx(Path(folder), Path(folder) / "model.onnx")
        onnx = OnnxEncoder(folder, EncoderConfig())
        torch_pass(ids[:8]), onnx.embed_windows(ids[:8])  # warm-up
        out = {
            "torch_fp32_summaries_per_s": len(ids) / _best(lambda: torch_pass(ids), 2),
            "onnx_summaries_per_s": len(ids) / _best(lambda: onnx.embed_windows(ids), 2),
            "torch_fp32_items_per_s": len(item_ids) / _best(lambda: torch_pass(item_ids), 2),
            "onnx_items_per_s": len(item_ids) / _best(lambda: onnx.embed_windows(item_ids), 2),
        }
        a = onnx.embed_windows(ids[:16])
        b = frozen.embed_windows(ids[:16])
        out["max_abs_difference"] = float(np.abs(a - b).max())
    out = {k: round(v, 1) if k != "max_abs_difference" else v for k, v in out.items()}
    out["onnx_vs_torch_summaries"] = round(out["onnx_summaries_per_s"] / out["torch_fp32_summaries_per_s"], 2)
    out["onnx_vs_torch_items"] = round(out["onnx_items_per_s"] / out["torch_fp32_items_per_s"], 2)
    return out


def throughput(task: str, summaries: list[str], reports: list[str], backend: str) -> dict:
    """Each model alone, every repeat encoding afresh (the encoders' caches of recent calls dropped)."""
    from pipelines.modeling.encoding import forget_recent_embeddings
    from pipelines.modeling.registry import load_classifier

    def cold(model, texts):
        forget_recent_embeddings()
        return model.predict_proba(texts)

    results = {}
    for kind in ("lexicon", "tfidf_linear", "transformer", "quoted_items", "ensemble"):
        directory = Path("models") / task / kind
        if not (directory / "meta.json").exists() or (backend == "torch" and kind in ("lexicon", "tfidf_linear")):
            continue
        started = time.perf_counter()
        model = load_classifier(directory, backend)
        load_s = time.perf_counter() - started
        model.predict_proba(summaries[:4])  # warm-up: lazy init, first-call allocations
        summary_s = _best(lambda m=model: cold(m, summaries), repeat=2)
        report_s = _best(lambda m=model: cold(m, reports), repeat=1)
        results[kind] = {
            "load_s": round(load_s, 2),
            "summaries_per_s": round(len(summaries) / summary_s, 1),
            "report_s_each": round(report_s / max(len(reports), 1), 2),
        }
    return results


def run_measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one fresh process, measured by /usr/bin/time -f %M (the exec'd
    program alone: a child's own rusage would count the pages it shared with this large process)."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def cold_tag(path: Path, model: str, repeat: int) -> dict:
    """`reviewtag tag FILE --model MODEL` in fresh processes: the median seconds and peak RSS."""
    reviewtag = str(Path(sys.executable).with_name("reviewtag"))
    runs = [run_measured([reviewtag, "tag", str(path), "-q", "--model", model]) for _ in range(repeat)]
    return {
        "seconds": round(statistics.median(r[0] for r in runs), 2),
        "peak_rss_mib": round(max(r[1] for r in runs), 1),
        "runs": [round(r[0], 2) for r in runs],
    }


def workbench_first_tag(summary: str, model: str, repeat: int) -> dict:
    """Seconds from `reviewtag serve` to its first uploaded summary tagged and shown (fresh servers)."""
    from research.web_bench import Session, free_port, start_server

    runs = []
    for k in range(repeat):
        port = free_port()
        started = time.perf_counter()
        server, _ = start_server(port, model)
        try:
            Session(f"http://127.0.0.1:{port}").tag(f"first-{k}.txt", f"{summary} ({k})".encode())
            runs.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"seconds": round(statistics.median(runs), 2), "runs": [round(r, 2) for r in runs]}


def cold_stages() -> dict[str, float]:
    listed = subprocess.run(["dvc", "stage", "list", "--name-only"], capture_output=True, text=True, check=True)
    return {
        stage: round(_best(lambda s=stage: subprocess.run(["dvc", "repro", "--force", "--single-item", s]), 1), 1)
        for stage in listed.stdout.split()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also force every DVC stage once and time it")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per cold figure (median)")
    args = parser.parse_args(argv)
    from pipelines.corpus.reading import read_path
    from pipelines.dataset import load_task_data
    from pipelines.items import item_spans
    from pipelines.text import clean_text

    summaries = load_task_data("harm_type").splits["test"].texts
    reports = [clean_text(r.text) for p in sorted(Path("data/raw").glob("00[03]_*.txt")) for r in read_path(p).reviews]
    items = [reports[-1][a:b] for a, b in item_spans(reports[-1], 400)]
    with tempfile.TemporaryDirectory() as folder:
        one = Path(folder) / "one.txt"
        one.write_text(summaries[0], encoding="utf-8")
        cold = {
            f"{name} {model}": cold_tag(path, model, args.repeat)
            for name, path in (("summary", one), ("70KB report", REPORT_70KB))
            for model in ("champion", "lexicon")
        }
    result = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "inputs": {"summaries": len(summaries), "reports": len(reports), "report_items": len(items)},
        "encoders": encoder_speeds(summaries, items),
        "throughput": {
            backend: {task: throughput(task, summaries, reports, backend) for task in ("harm_type", "learning_theme")}
            for backend in ("onnx", "torch")
        },
        "cold_tag": cold,
        "cli_help_s": round(
            statistics.median(
                run_measured([str(Path(sys.executable).with_name("reviewtag")), "--help"])[0]
                for _ in range(args.repeat)
            ),
            2,
        ),
        "workbench_first_tag": {m: workbench_first_tag(summaries[1], m, args.repeat) for m in ("champion", "lexicon")},
    }
    reference = result["encoders"]["torch_fp32_summaries_per_s"]
    lexicon = result["throughput"]["onnx"]["harm_type"].get("lexicon", {}).get("summaries_per_s")
    for by_task in result["throughput"].values():
        for kinds in by_task.values():
            for values in kinds.values():
                values["vs_bare_torch"] = round(values["summaries_per_s"] / reference, 3)
                values["vs_lexicon"] = round(values["summaries_per_s"] / lexicon, 4) if lexicon else None
    for key, values in cold.items():
        values["vs_lexicon"] = round(values["seconds"] / cold[key.rsplit(" ", 1)[0] + " lexicon"]["seconds"], 2)
    if args.cold:
        result["cold_stage_s"] = cold_stages()
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    OUT_MD.write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


def markdown(result: dict) -> str:
    m, e = result["machine"], result["encoders"]
    lines = [
        f"Benchmark on {m['platform']}, Python {m['python']}, {m['cpus']} CPUs ({result['inputs']['summaries']} test "
        f"summaries; the 70 KB report's {result['inputs']['report_items']} items).",
        "",
        "| encoder | summaries/s (first 256 tokens) | × bare PyTorch | report items/s | × bare PyTorch |",
        "|---|---:|---:|---:|---:|",
        f"| bare PyTorch fp32 (reference) | {e['torch_fp32_summaries_per_s']} | 1.0 | "
        f"{e['torch_fp32_items_per_s']} | 1.0 |",
        f"| ONNX export, onnxruntime | {e['onnx_summaries_per_s']} | {e['onnx_vs_torch_summaries']} | "
        f"{e['onnx_items_per_s']} | {e['onnx_vs_torch_items']} |",
        "",
        f"Largest difference between the two encoders' embeddings: {e['max_abs_difference']:.1e}.",
        "",
        "| backend | task | model | load s | summaries/s | × bare PyTorch | × lexicon | s per full report |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for backend, by_task in result["throughput"].items():
        for task, kinds in by_task.items():
            for kind, v in kinds.items():
                lines.append(
                    f"| {backend} | {task} | {kind} | {v['load_s']} | {v['summaries_per_s']} | {v['vs_bare_torch']} | "
                    f"{v['vs_lexicon']} | {v['report_s_each']} |"
                )
    lines += [
        "",
        "| cold `reviewtag tag` (median of fresh processes) | s | × lexicon | peak RSS MiB |",
        "|---|---:|---:|---:|",
    ]
    for key, v in result["cold_tag"].items():
        lines.append(f"| {key} | {v['seconds']} | {v['vs_lexicon']} | {v['peak_rss_mib']} |")
    wb = result["workbench_first_tag"]
    lines += [
        "",
        f"Workbench, start to the first uploaded summary tagged: champion {wb['champion']['seconds']} s, "
        f"lexicon {wb['lexicon']['seconds']} s. `reviewtag --help`: {result['cli_help_s']} s.",
    ]
    if "cold_stage_s" in result:
        lines += ["", "| stage (forced) | s |", "|---|---:|"] + [
            f"| {k} | {v} |" for k, v in result["cold_stage_s"].items()
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
