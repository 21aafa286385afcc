"""The loop's pages beyond one review: the queue of added reviews still to check, and annotator agreement.

Mixin of `routes.Site` (uses its workbench, loop and page()); the retrain and promote pages are in
`retrain_pages`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipelines.labels.agreement import agreement_context
from pipelines.labels.corrections import read_corrections
from pipelines.web import uploads
from pipelines.web.security import read_form


class LoopPages:
    def queue_page(self, request: Request, added: list | None = None) -> Response:
        """The queue, with the results of an upload just added (if any)."""
        entries = self.loop.queue()
        return self.page(
            request,
            "queue.html",
            entries=entries,
            checked=sum(e.checked for e in entries),
            total=len(entries),
            first=next((e.review_id for e in entries if not e.checked), None),
            done=request.query_params.get("done"),
            added=added or [],
        )

    async def show_queue(self, request: Request) -> Response:
        return self.queue_page(request)

    async def add_files(self, request: Request) -> Response:
        """Upload newly published reviews straight into the corpus (as `reviewtag add`), then show the queue."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        folder = Path(tempfile.mkdtemp(prefix="reviewtag-add-"))
        try:
            files, names = [], []
            for k, upload in enumerate(f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename):
                path = folder / f"{k:04d}"
                with open(path, "wb") as out:
                    shutil.copyfileobj(upload.file, out)
                files.append(path)
                names.append(uploads.display_name(upload.filename, k))
            results = self.loop.add(files, names) if files else []
        finally:
            await form.close()
            shutil.rmtree(folder, ignore_errors=True)
        if not results:
            return self.message(request, 400, "Nothing added", "Choose one or more files.")
        return self.queue_page(request, results)

    async def show_agreement(self, request: Request) -> Response:
        corrections, problems = read_corrections(self.workbench.corrections_dir)
        context = agreement_context(corrections, self.workbench.vocabulary)
        return self.page(request, "agreement.html", **context, problems=problems)

    async def remember_annotator(self, request: Request) -> Response:
        """The name field of the header, for browsers without the page's script: sets the cookie."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        name = str(form.get("annotator") or "").strip()
        back = str(form.get("back") or "/")
        response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", 303)
        from pipelines.labels.recording import ANNOTATOR

        if ANNOTATOR.fullmatch(name):
            response.set_cookie("reviewtag_annotator", name, max_age=365 * 86400, samesite="strict")
        return response
