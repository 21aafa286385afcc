"""The analysts' loop on the page, timed: `python -m research.loop_bench` (writes experiments/loop_bench.json).

A throwaway copy of the project (its models, corpus and MLflow store) is served by `reviewtag serve` with the
champion; ten 2023 summaries re-headed as 2024 reviews are added through the queue's upload, then one review's
page is opened five times (the reference, measured in the same run) and five labels are rejected the way the
page's script sends them (the label panel comes back re-rendered), and the review is marked done.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pipelines import paths

OUT = Path("experiments/loop_bench.json")
COPIED = (
    "models",
    "data/interim",
    "data/processed",
    "data/corrections",
    "data/taxonomy_contract.md",
    "data/gold/guidelines.md",
    "params.yaml",
    "dvc.lock",
    "experiments/mlflow.db",
    "experiments/mlartifacts",
)


def project_copy(root: Path, target: Path) -> None:
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def summaries(root: Path, n: int = 10) -> list[tuple[str, bytes]]:
    rows = [json.loads(line) for line in (root / "data/interim/dedup.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if r["year"] == 2023][:n]
    return [
        (f"r{k}.txt", f"2024 - Newshire {k} - Child N{k}\n\n{r['text'][:1500]}\n".encode()) for k, r in enumerate(rows)
    ]


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def measure(client: httpx.Client, files: list[tuple[str, bytes]]) -> dict:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    uploads = [("files", (name, body, "text/plain")) for name, body in files]
    add_s, added = timed(lambda: client.post("/queue/add", data={"csrf": token}, files=uploads))
    review_id = re.findall(r"added as ([\w-]+)", added.text)[0]
    queue_s, _ = timed(lambda: client.get("/queue"))
    page = [timed(lambda: client.get(f"/corpus/{review_id}"))[0] for _ in range(5)]
    decisions = []
    for label in ("neglect", "physical_abuse", "sexual_abuse", "domestic_abuse", "homicide"):
        form = {"csrf": token, "task": "harm_type", "label": label, "action": "reject", "note": "timing run"}
        seconds, answer = timed(
            lambda form=form: client.post(
                f"/corpus/{review_id}/correct", data=form, headers={"x-requested-with": "fetch"}
            )
        )
        assert answer.status_code == 200, answer.text[:200]
        decisions.append(seconds)
    done_s, _ = timed(lambda: client.post(f"/corpus/{review_id}/done", data={"csrf": token}))
    return {
        "add_and_tag_10_summaries_s": round(add_s, 3),
        "queue_page_s": round(queue_s, 3),
        "review_page_median_s": round(statistics.median(page), 3),
        "decision_round_trip_median_s": round(statistics.median(decisions), 3),
        "decision_vs_page_ratio": round(statistics.median(decisions) / statistics.median(page), 2),
        "done_and_next_s": round(done_s, 3),
    }


def main(port: int = 8031) -> None:
    root = paths.project_root()
    with tempfile.TemporaryDirectory(prefix="reviewtag-loop-bench-") as tmp:
        project_copy(root, Path(tmp))
        command = [str(Path(sys.executable).with_name("reviewtag")), "serve", "--port", str(port)]
        server = subprocess.Popen(command, cwd=tmp, stderr=subprocess.DEVNULL, env=os.environ | {"REVIEWTAG_ROOT": tmp})
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
            for _ in range(600):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            figures = measure(client, summaries(root))
        finally:
            server.terminate()
            server.wait(20)
    OUT.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
