"""The workbench's routes: tag (paste or upload), results, review view, corrections with undo, export.

Every page is rendered on the server with Jinja2 autoescaping, so review text, titles and file names
reach the browser as text, never as markup; every POST goes through `read_form` (CSRF) and the upload
limit. Routes are small: the work is in `batches` (reading and tagging), `workbench` (models and
corrections) and `highlight` (evidence in place).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipelines.classifiers import KINDS
from pipelines.corrections import CorrectionError
from pipelines.tagging import render
from pipelines.taxonomy import TASKS
from pipelines.web import highlight, uploads
from pipelines.web.batches import Batch, BatchStore
from pipelines.web.security import (
    CSRF_FIELD,
    LOOPBACK_HOSTS,
    CsrfError,
    Guard,
    UploadTooLarge,
    new_secret,
    read_form,
    too_large_message,
)
from pipelines.web.workbench import Workbench

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
ACTIONS = {"accept": "add", "add": "add", "reject": "remove"}
TOKEN = re.compile(r"^[\w-]{1,40}$")


def create_app(
    workbench: Workbench,
    max_upload_bytes: int = 64 * 2**20,
    allowed_hosts: frozenset[str] | None = LOOPBACK_HOSTS,
    models_dir: Path = Path("models"),
    keep_batches: int = 50,
) -> Guard:
    """The ASGI application. `allowed_hosts=None` accepts any Host header (a non-loopback bind)."""
    secret = new_secret()
    store = BatchStore(keep_batches)
    choices = ["champion", *(k for k in KINDS if all((models_dir / t / k).is_dir() for t in TASKS))]

    def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        context |= {
            "csrf_field": CSRF_FIELD,
            "csrf": request.state.csrf_token,
            "annotator": workbench.annotator,
            "corrections_dir": str(workbench.corrections_dir),
            "default_models": workbench.describe(),
        }
        return HTMLResponse(TEMPLATES.get_template(template).render(request=request, **context), status)

    def batch_or_404(batch_id: str) -> Batch:
        batch = store.get(batch_id) if TOKEN.match(batch_id) else None
        if batch is None:
            raise HTTPException(404, "No such batch (batches live in the server's memory until it stops).")
        return batch

    async def index(request: Request) -> Response:
        return page(request, "index.html", choices=choices, default_spec=workbench.default_spec, batches=store.recent())

    async def tag(request: Request) -> Response:
        form = await read_form(request, secret, max_upload_bytes)
        try:
            spec = workbench.check_spec(str(form.get("custom_model") or form.get("model") or ""))
        except ValueError as exc:
            return page(request, "message.html", 400, title="Unknown model", message=str(exc))
        folder = Path(tempfile.mkdtemp(prefix="reviewtag-web-"))
        received: list[uploads.Upload] = []
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        named = sorted(((uploads.display_name(f.filename, i), f) for i, f in enumerate(files)), key=by_walk)
        taken: set[str] = set()
        text = form.get("text")
        try:
            for index, (name, upload) in enumerate(named):
                received.append(uploads.save(upload.file, uploads.unique(name, taken), index, folder))
            if isinstance(text, str) and text.strip():
                received.append(uploads.save_text(text, uploads.unique("pasted text", taken), folder, len(received)))
        except OSError as exc:  # full disk, quota: say so, keep serving, leave nothing behind
            shutil.rmtree(folder, ignore_errors=True)
            message = f"The server could not store the upload ({exc.strerror or exc}); nothing was tagged."
            return page(request, "message.html", 507, title="Upload not stored", message=message)
        finally:
            await form.close()
        if not received:
            folder.rmdir()
            return page(request, "message.html", 400, title="Nothing to tag", message="Paste text or choose files.")
        batch = store.submit(received, folder, spec, workbench.models, workbench.max_chars)
        return RedirectResponse(f"/batch/{batch.id}", 303)

    async def show_batch(request: Request) -> Response:
        batch = batch_or_404(request.path_params["batch_id"])
        if not batch.finished:
            return page(request, "progress.html", batch=batch)
        label = request.query_params.get("label", "")
        sort = request.query_params.get("sort", "")
        rows = list(enumerate(batch.rows))
        labels = sorted({lab for _, row in rows for t in TASKS for lab in row.get(t) or []})
        if label:
            rows = [(i, r) for i, r in rows if label in (r.get("harm_type") or []) + (r.get("learning_theme") or [])]
        if sort in labels:
            rows.sort(key=lambda ir: -score(ir[1], sort))
        elif sort == "source":
            rows.sort(key=lambda ir: ir[1]["source"])
        models = next((r["model"] for r in batch.rows if r.get("model")), {})
        return page(request, "batch.html", batch=batch, rows=rows, labels=labels, label=label, sort=sort, models=models)

    async def status(request: Request) -> Response:
        return JSONResponse(batch_or_404(request.path_params["batch_id"]).progress())

    async def export(request: Request) -> Response:
        batch = batch_or_404(request.path_params["batch_id"])
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "jsonl") or batch.status != "done":
            raise HTTPException(404, "Export is csv or jsonl, once the batch is done.")
        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        disposition = f'attachment; filename="reviewtag-{batch.id}.{fmt}"'
        headers = {"content-disposition": disposition}
        return Response(render(batch.rows, fmt), media_type=f"{media}; charset=utf-8", headers=headers)

    def review_context(batch: Batch, n: int) -> dict:
        if not (0 <= n < len(batch.regions)):
            raise HTTPException(404, "No such review in this batch.")
        row = batch.rows[n]
        document = batch.documents.get(row["document"], "")
        quotes = {label: items[0]["text"] for label, items in row["evidence"].items() if items}
        return {
            "batch": batch,
            "n": n,
            "row": row,
            "tasks": TASKS,
            "colours": highlight.colours(row),
            "segments": highlight.segments(document, batch.regions[n], row["evidence"]),
            "vocabulary": workbench.vocabulary,
            "quotes": quotes,
            "blocked": workbench.correctable(row["review_id"]),
            "session": workbench.session_decisions(row["review_id"]),
            "on_file": workbench.on_file(row["review_id"]),
        }

    async def show_review(request: Request) -> Response:
        batch = batch_or_404(request.path_params["batch_id"])
        context = review_context(batch, request.path_params["n"])
        shown = workbench.decisions.get(request.query_params.get("recorded", ""))
        undone = workbench.decisions.get(request.query_params.get("undone", ""))
        return page(request, "review.html", **context, recorded=shown, undone=undone, problems=[])

    async def correct(request: Request) -> Response:
        batch = batch_or_404(request.path_params["batch_id"])
        n = request.path_params["n"]
        context = review_context(batch, n)
        form = await read_form(request, secret, max_upload_bytes)
        value = {k: str(form.get(k) or "") for k in ("task", "label", "action", "evidence", "note")}
        if ":" in value["label"]:  # the add form names a label as task:label
            value["task"], value["label"] = value["label"].split(":", 1)
        try:
            if value["action"] not in ACTIONS:
                raise CorrectionError([f"unknown action {value['action'][:20]!r} (accept, reject or add)"])
            decision = workbench.decide(
                context["row"]["review_id"],
                value["task"],
                value["label"],
                ACTIONS[value["action"]],
                value["evidence"],
                value["note"],
            )
        except CorrectionError as exc:
            context |= {"recorded": None, "undone": None, "problems": exc.problems, "form": value}
            return page(request, "review.html", 422, **context)
        except OSError as exc:  # full disk: the line was not written, and the page must not say it was
            problems = [f"could not write to {workbench.corrections_dir} ({exc.strerror or exc}): nothing recorded"]
            context |= {"recorded": None, "undone": None, "problems": problems, "form": value}
            return page(request, "review.html", 507, **context)
        return RedirectResponse(f"/batch/{batch.id}/review/{n}?recorded={decision.id}#decisions", 303)

    async def undo(request: Request) -> Response:
        form = await read_form(request, secret, max_upload_bytes)
        back = str(form.get("back") or "/")
        decision = workbench.undo(request.path_params["decision_id"])
        if decision is None:
            return page(request, "message.html", 404, title="Nothing to undo", message="That line is already gone.")
        target = back if re.fullmatch(r"/batch/[\w-]+/review/\d+", back) else "/"
        return RedirectResponse(f"{target}?undone={decision.id}#decisions", 303)

    async def too_large(request: Request, exc: Exception) -> Response:
        return page(request, "message.html", 413, title="Upload too large", message=too_large_message(max_upload_bytes))

    async def forbidden(request: Request, exc: Exception) -> Response:
        return page(request, "message.html", 403, title="Refused", message=f"Refused: {exc}")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return page(request, "message.html", exc.status_code, title=title, message=exc.detail)

    routes = [
        Route("/", index),
        Route("/healthz", lambda request: Response("ok", media_type="text/plain")),
        Route("/tag", tag, methods=["POST"]),
        Route("/batch/{batch_id}", show_batch),
        Route("/batch/{batch_id}/status", status),
        Route("/batch/{batch_id}/export.{fmt}", export),
        Route("/batch/{batch_id}/review/{n:int}", show_review),
        Route("/batch/{batch_id}/review/{n:int}/correct", correct, methods=["POST"]),
        Route("/undo/{decision_id}", undo, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    handlers = {UploadTooLarge: too_large, CsrfError: forbidden, HTTPException: http_error}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.shutdown()

    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    guard = Guard(app, secret, max_upload_bytes, allowed_hosts)
    guard.store, guard.workbench = store, workbench  # for tests and the benchmark
    return guard


def by_walk(named: tuple[str, UploadFile]) -> list[tuple[int, str]]:
    return uploads.walk_key(named[0])


def score(row: dict, label: str) -> float:
    """A label's probability in a row, whichever task it belongs to (0 for an error row)."""
    return max((s.get(label, 0.0) for s in (row.get("scores") or {}).values()), default=0.0)
