"""The workbench's routes: tag (paste or upload), results, review view, corrections with undo, export.

Every page is rendered on the server with Jinja2 autoescaping, so review text, titles and file names
reach the browser as text, never as markup; every POST goes through `read_form` (CSRF) and the upload
limit. Routes are small: the work is in `batches` (reading and tagging), `workbench` (models and
corrections) and `highlight` (evidence in place).

The handlers are methods of `Site`, which holds what they share (the workbench, the batch store, the
CSRF secret, the templates, the upload limit), so each one reads as a plain function of the request
and the state is built once, in `app.create_app`, instead of being captured by closures.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ExceptionHandler

from pipelines.exports import export_rows, reader_labels_for
from pipelines.labels.corrections import read_corrections
from pipelines.labels.meanings import label_meanings
from pipelines.labels.taxonomy import TASKS
from pipelines.web import uploads
from pipelines.web.batches import Batch, BatchStore
from pipelines.web.loop import Loop
from pipelines.web.loop_pages import LoopPages
from pipelines.web.retrain_pages import RetrainPages
from pipelines.web.review_pages import ReviewPages
from pipelines.web.security import CSRF_FIELD, CsrfError, UploadTooLarge, read_form, too_large_message
from pipelines.web.workbench import Workbench

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
TOKEN = re.compile(r"^[\w-]{1,40}$")


@dataclass
class Site(ReviewPages, LoopPages, RetrainPages):
    """The state every route shares. One per `create_app` call, so two apps (two tests) never share a
    store, a secret or a workbench. The review, loop and retrain routes are mixins, one module each."""

    workbench: Workbench
    store: BatchStore
    secret: bytes
    max_upload_bytes: int
    choices: list[str]  # the model choices offered on the index page
    templates: Environment = TEMPLATES
    loop: Loop = field(init=False)
    meanings: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.loop = Loop(self.workbench)
        self.meanings = label_meanings(self.workbench.contract)

    def routes(self) -> list[BaseRoute]:
        """The URL map. The URLs are the workbench's interface (links, bookmarks, the e2e test): keep them."""
        return [
            Route("/", self.index),
            Route("/healthz", healthz),
            Route("/tag", self.tag, methods=["POST"]),
            Route("/batch/{batch_id}", self.show_batch),
            Route("/batch/{batch_id}/status", self.status),
            Route("/batch/{batch_id}/export.{fmt}", self.export),
            Route("/batch/{batch_id}/review/{n:int}", self.show_review),
            Route("/batch/{batch_id}/review/{n:int}/correct", self.correct, methods=["POST"]),
            Route("/batch/{batch_id}/review/{n:int}/add", self.add_to_corpus, methods=["POST"]),
            Route("/corpus/{review_id}", self.show_corpus_review),
            Route("/corpus/{review_id}/correct", self.correct_corpus, methods=["POST"]),
            Route("/corpus/{review_id}/done", self.done, methods=["POST"]),
            Route("/corpus/{review_id}/withdraw", self.withdraw, methods=["POST"]),
            Route("/batch/{batch_id}/review/{n:int}/withdraw", self.withdraw, methods=["POST"]),
            Route("/undo/{decision_id}", self.undo, methods=["POST"]),
            Route("/queue", self.show_queue),
            Route("/queue/add", self.add_files, methods=["POST"]),
            Route("/agreement", self.show_agreement),
            Route("/annotator", self.remember_annotator, methods=["POST"]),
            *self.retrain_routes(),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

    def exception_handlers(self) -> dict[Any, ExceptionHandler]:
        """Refusals raised deep in a request (body too large while streaming, bad CSRF token, 404) become
        pages in the site's layout instead of Starlette's bare text."""
        return {UploadTooLarge: self.too_large, CsrfError: self.forbidden, HTTPException: self.http_error}

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Stop the tagging worker when the server stops, so a queued batch does not hold the process."""
        yield
        self.store.shutdown()

    # helpers -------------------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a template with what every page needs (the CSRF token for its forms, who is annotating)."""
        context = {"annotator": self.annotator_of(request)} | context
        context |= {
            "csrf_field": CSRF_FIELD,
            "csrf": request.state.csrf_token,
            "signed_in": getattr(request.state, "user", None),
            "path": request.url.path,
            "corrections_dir": str(self.workbench.corrections_dir),
            "default_models": self.workbench.describe(),
        }
        return HTMLResponse(self.templates.get_template(template).render(request=request, **context), status)

    def fragment(self, template: str, request: Request, **context: Any) -> str:
        """A part of a page (the label panel), rendered as the full page would render it."""
        context |= {"csrf_field": CSRF_FIELD, "csrf": request.state.csrf_token}
        return self.templates.get_template(template).render(request=request, **context)

    def message(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        """A one-message page (refusals, errors): the status code says what happened, the text says why."""
        return self.page(request, "message.html", status, title=title, message=message)

    def batch_or_404(self, batch_id: str) -> Batch:
        """The batch named in the URL; an id that is not even token-shaped is never looked up."""
        batch = self.store.get(batch_id) if TOKEN.match(batch_id) else None
        if batch is None:
            raise HTTPException(404, "No such batch (batches live in the server's memory until it stops).")
        return batch

    # routes --------------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return self.page(
            request,
            "index.html",
            choices=self.choices,
            default_spec=self.workbench.default_spec,
            batches=self.store.recent(),
        )

    async def tag(self, request: Request) -> Response:
        """Store the uploads and queue the batch; the tagging happens in the store's worker, so this
        request returns at once and the batch page polls for progress."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        try:
            spec = self.workbench.check_spec(str(form.get("custom_model") or form.get("model") or ""))
        except ValueError as exc:
            return self.message(request, 400, "Unknown model", str(exc))
        folder = Path(tempfile.mkdtemp(prefix="reviewtag-web-"))
        try:
            received = save_uploads(form, folder)
        except OSError as exc:  # full disk, quota: say so, keep serving, leave nothing behind
            shutil.rmtree(folder, ignore_errors=True)
            message = f"The server could not store the upload ({exc.strerror or exc}); nothing was tagged."
            return self.message(request, 507, "Upload not stored", message)
        finally:
            await form.close()
        if not received:
            folder.rmdir()
            return self.message(request, 400, "Nothing to tag", "Paste text or choose files.")
        batch = self.store.submit(
            received, folder, spec, self.workbench.models, self.workbench.max_chars, self.workbench.operating_point
        )
        return RedirectResponse(f"/batch/{batch.id}", 303)

    async def show_batch(self, request: Request) -> Response:
        """The progress page until the batch is finished, then its rows (filtered by ?label, sorted by ?sort)."""
        batch = self.batch_or_404(request.path_params["batch_id"])
        if not batch.finished:
            return self.page(request, "progress.html", batch=batch)
        label = request.query_params.get("label", "")
        sort = request.query_params.get("sort", "")
        rows = list(enumerate(batch.rows))
        labels = sorted({lab for _, row in rows for t in TASKS for lab in row.get(t) or []})
        if label:
            rows = [(i, r) for i, r in rows if label in (r.get("harm_type") or []) + (r.get("learning_theme") or [])]
        if sort in labels:
            rows.sort(key=lambda ir: -score(ir[1], sort))
        elif sort == "source":
            rows.sort(key=lambda ir: uploads.walk_key(ir[1]["source"]))
        models = next((r["model"] for r in batch.rows if r.get("model")), {})
        return self.page(
            request, "batch.html", batch=batch, rows=rows, labels=labels, label=label, sort=sort, models=models
        )

    async def status(self, request: Request) -> Response:
        return JSONResponse(self.batch_or_404(request.path_params["batch_id"]).progress())

    async def export(self, request: Request) -> Response:
        """The batch with the analysts' work: the model's labels and, beside them, the reader labels (the
        corrections on file applied), kept to the page's label filter. `?layout=sheet` is one column per
        label score (no JSON in any cell); `?excel=1` adds Excel's BOM and guards formula-like cells."""
        batch = self.batch_or_404(request.path_params["batch_id"])
        fmt = request.path_params["fmt"]
        layout = request.query_params.get("layout", "full")
        if fmt not in ("csv", "jsonl") or layout not in ("full", "sheet") or batch.status != "done":
            raise HTTPException(404, "Export is csv (full or sheet layout) or jsonl, once the batch is done.")
        corrections, _ = read_corrections(self.workbench.corrections_dir)
        label = request.query_params.get("label") or None
        excel = request.query_params.get("excel") == "1" and fmt == "csv"
        rows = batch.rows
        kind = "sheet" if fmt == "csv" and layout == "sheet" else fmt
        content, media, suffix = export_rows(rows, kind, reader_labels_for(rows, corrections), label, excel)
        name = f"reviewtag-{batch.id}{'-' + label if label else ''}{'-sheet' if kind == 'sheet' else ''}{suffix}"
        headers = {"content-disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type=media, headers=headers)

    # exception handlers --------------------------------------------------------------------------

    async def too_large(self, request: Request, exc: Exception) -> Response:
        return self.message(request, 413, "Upload too large", too_large_message(self.max_upload_bytes))

    async def forbidden(self, request: Request, exc: Exception) -> Response:
        return self.message(request, 403, "Refused", f"Refused: {exc}")

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return self.message(request, exc.status_code, title, exc.detail)


async def healthz(request: Request) -> Response:
    """For a supervisor or the benchmark to see the server is up, without rendering a page."""
    return Response("ok", media_type="text/plain")


def save_uploads(form: FormData, folder: Path) -> list[uploads.Upload]:
    """Every chosen file, in the order the browser sent them (the order the analyst chose them; "sort by
    source" gives `reviewtag tag FOLDER`'s order), and the pasted text, stored in `folder` under
    server-chosen names; display names are made unique so two files never merge. Raises OSError (disk)."""
    received: list[uploads.Upload] = []
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    named = [(uploads.display_name(f.filename, i), f) for i, f in enumerate(files)]
    taken: set[str] = set()
    for index, (name, upload) in enumerate(named):
        received.append(uploads.save(upload.file, uploads.unique(name, taken), index, folder))
    text = form.get("text")
    if isinstance(text, str) and text.strip():
        received.append(uploads.save_text(text, uploads.unique("pasted text", taken), folder, len(received)))
    return received


def score(row: dict, label: str) -> float:
    """A label's probability in a row, whichever task it belongs to (0 for an error row)."""
    return max((s.get(label, 0.0) for s in (row.get("scores") or {}).values()), default=0.0)
