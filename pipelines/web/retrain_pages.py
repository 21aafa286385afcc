"""Retrain and compare from the page: start `reviewtag retrain` (one at a time), follow its progress and log,
read the comparison of the retrained models with the champion, and promote a version with who and why.

Mixin of `routes.Site`. Everything is `pipelines.retraining`'s: the page only starts a job, reads its files
and calls `promote`; nothing is promoted without an evaluator pressing Promote with a reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pipelines import retraining
from pipelines.web.security import read_form

FIGURE = re.compile(r"^(?:[\w-]{1,80}/){0,3}[\w.-]{1,120}\.png$")  # a PNG in the job folder, never ".."


def markdown_blocks(text: str) -> list[dict[str, Any]]:
    """The compare report's markdown as blocks the template renders (autoescaped): headings, tables and
    paragraphs. Enough for the report this project writes; never HTML from the file."""
    blocks: list[dict[str, Any]] = []
    for line in text.splitlines():
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", line.strip())
        if image and FIGURE.match(image.group(2)):
            blocks.append({"kind": "figure", "alt": image.group(1), "src": image.group(2)})
        elif line.startswith("#"):
            blocks.append({"kind": "heading", "level": min(line.count("#", 0, 4), 4), "text": line.lstrip("# ")})
        elif line.startswith("|"):
            cells = [c.strip().replace("**", "").replace("`", "") for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            if blocks and blocks[-1]["kind"] == "table":
                blocks[-1]["rows"].append(cells)
            else:
                blocks.append({"kind": "table", "head": cells, "rows": []})
        elif line.strip():
            text_line = line.strip().removeprefix("- ").replace("**", "").replace("`", "")
            if blocks and blocks[-1]["kind"] == "list" and line.lstrip().startswith("- "):
                blocks[-1]["entries"].append(text_line)
            elif line.lstrip().startswith("- "):
                blocks.append({"kind": "list", "entries": [text_line]})
            else:
                blocks.append({"kind": "paragraph", "text": text_line})
    return blocks


class RetrainPages:
    retrain_command: list[str] | None = None  # None: `dvc repro` (a test gives a tiny one)

    def retrain_routes(self) -> list[Route]:
        return [
            Route("/retrain", self.show_retrain),
            Route("/retrain", self.start_retrain, methods=["POST"]),
            Route("/retrain/{job_id}/status", self.retrain_status),
            Route("/retrain/{job_id}/figure/{name:path}", self.retrain_figure),
            Route("/retrain/promote", self.promote, methods=["POST"]),
        ]

    def job_folder(self, job_id: str) -> Path:
        try:
            return retraining.job_folder(job_id)
        except retraining.RetrainError as exc:
            raise HTTPException(404, str(exc)) from exc

    async def show_retrain(self, request: Request) -> Response:
        jobs = retraining.jobs(limit=10)
        wanted = request.query_params.get("job") or (jobs[0]["id"] if jobs else "")
        job = next((j for j in jobs if j["id"] == wanted), None)
        report, blocks, figures, log = None, [], [], ""
        if job:
            folder = self.job_folder(job["id"])
            log = retraining.log_tail(folder)
            if (folder / "compare.json").is_file():
                report = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
                blocks = markdown_blocks((folder / "compare.md").read_text(encoding="utf-8"))
                shown = {b["src"] for b in blocks if b["kind"] == "figure"}
                figures = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
                figures = [f for f in figures if f not in shown]
        return self.page(
            request,
            "retrain.html",
            jobs=jobs,
            job=job,
            report=report,
            blocks=blocks,
            figures=figures,
            log=log,
            running=retraining.running(),
            promoted=request.query_params.get("promoted"),
        )

    async def start_retrain(self, request: Request) -> Response:
        form = await read_form(request, self.secret, self.max_upload_bytes)
        by = self.annotator_of(request, form)
        try:
            job = retraining.start(by, self.retrain_command)
        except (retraining.RetrainBusy, ValueError, OSError) as exc:
            return self.message(request, 409, "Retrain not started", str(exc))
        return RedirectResponse(f"/retrain?job={job.id}", 303)

    async def retrain_status(self, request: Request) -> Response:
        folder = self.job_folder(request.path_params["job_id"])
        state = retraining.read_status(folder)
        return JSONResponse(state | {"log": retraining.log_tail(folder, 15)})

    async def retrain_figure(self, request: Request) -> Response:
        name = request.path_params["name"]
        folder = self.job_folder(request.path_params["job_id"])
        path = folder / name
        if not FIGURE.match(name) or ".." in name or not path.is_file():
            raise HTTPException(404, "No such figure.")
        return FileResponse(path, media_type="image/png")

    async def promote(self, request: Request) -> Response:
        """Move the champion to the version an evaluator chose, with their name and reason on it."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        fields = {k: str(form.get(k) or "").strip() for k in ("task", "kind", "version", "job", "reason")}
        by = self.annotator_of(request, form)
        try:
            done = retraining.promote(
                fields["task"], fields["kind"], fields["version"], by, fields["reason"], fields["job"] or None
            )
        except (ValueError, retraining.RetrainBusy) as exc:
            return self.message(request, 422, "Not promoted", str(exc))
        self.workbench.forget_models()  # the next batch loads the new champion
        self.loop.forget()
        shown = f"{done['model']}-v{done['version']}"
        return RedirectResponse(f"/retrain?job={fields['job']}&promoted={shown}", 303)
