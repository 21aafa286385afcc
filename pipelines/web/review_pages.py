"""The review page and what is done on it: read the evidence, accept, reject or add a label, undo, add the
review to the corpus, mark it done, move through the queue.

One page serves a batch's review (`/batch/ID/review/N`) and a corpus review (`/corpus/REVIEW_ID`, where
the queue and the agreement page link). A decision sent by the page's script (`x-requested-with: fetch`)
is answered with JSON holding the re-rendered label panel, so the reader keeps their place; the same forms
still work without the script (a redirect back to the review). Corrections go through the workbench only,
validated exactly as `reviewtag correct` validates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pipelines.analyst import UnknownReviewError
from pipelines.labels.corrections import CorrectionError, read_corrections
from pipelines.labels.recording import ANNOTATOR
from pipelines.labels.taxonomy import TASKS
from pipelines.web import highlight
from pipelines.web.loop import Shown
from pipelines.web.reader_view import label_views
from pipelines.web.security import read_form

ACTIONS = {"accept": "add", "add": "add", "reject": "remove"}
CORRECTION_FIELDS = ("task", "label", "action", "evidence", "note")
REVIEW_ID = re.compile(r"^[\w.-]{1,200}$")


@dataclass
class Target:
    """The review a request is about, and where its page lives."""

    shown: Shown
    url: str  # this review's page
    batch: Any = None  # the Batch for a batch review
    n: int | None = None

    @property
    def review_id(self) -> str:
        return self.shown.row["review_id"]


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


class ReviewPages:
    """Mixin of `routes.Site`: the review routes. Uses the Site's workbench, loop, page() and read_form."""

    # targets ------------------------------------------------------------------------------------

    def batch_target(self, request: Request) -> Target:
        return self.batch_target_of(request.path_params["batch_id"], request.path_params["n"])

    def batch_target_of(self, batch_id: str, n: int) -> Target:
        batch = self.batch_or_404(batch_id)
        if not (0 <= n < len(batch.regions)):
            raise HTTPException(404, "No such review in this batch.")
        row = batch.rows[n]
        shown = Shown(row, batch.documents.get(row["document"], ""), batch.regions[n])
        return Target(shown, f"/batch/{batch.id}/review/{n}", batch, n)

    def corpus_target(self, request: Request) -> Target:
        return self.corpus_target_of(request.path_params["review_id"])

    def corpus_target_of(self, review_id: str) -> Target:
        if not REVIEW_ID.match(review_id):
            raise HTTPException(404, "No such review.")
        try:
            shown = self.loop.show(review_id)
        except UnknownReviewError as exc:
            raise HTTPException(404, str(exc)) from exc
        return Target(shown, f"/corpus/{review_id}")

    def annotator_of(self, request: Request, form: FormData | None = None) -> str:
        """Who is deciding: the signed-in user (users file), else the name the page remembers for this
        browser (sent with every form, and as a cookie for plain links), else `serve --annotator`."""
        user = getattr(request.state, "user", None)
        if user:
            return user
        for value in ((form or {}).get("annotator"), request.cookies.get("reviewtag_annotator")):
            if isinstance(value, str) and ANNOTATOR.fullmatch(value.strip()):
                return value.strip()
        return self.workbench.annotator

    # context ------------------------------------------------------------------------------------

    def panel_context(self, request: Request, target: Target, annotator: str) -> dict[str, Any]:
        """What the label panel shows (the part a decision re-renders)."""
        row, review_id = target.shown.row, target.review_id
        corrections, _ = read_corrections(self.workbench.corrections_dir)
        on_file = [c for c in corrections if c.review_id == review_id]
        colours = highlight.colours(row, [c.label for c in on_file if c.action == "add"])
        return {
            "target": target,
            "row": row,
            "tasks": TASKS,
            "views": label_views(row, on_file, self.meanings, colours),
            "colours": colours,
            "blocked": self.workbench.correctable(review_id),
            "session": self.workbench.session_decisions(review_id),
            "on_file": [c.to_dict() | {"origin": c.origin} for c in on_file],
            "checked_by": sorted({c.annotator for c in on_file if c.is_check}),
            "annotator": annotator,
            "quotes": {label: items[0]["text"] for label, items in (row.get("evidence") or {}).items() if items},
        }

    def review_context(self, request: Request, target: Target, annotator: str) -> dict[str, Any]:
        shown, row = target.shown, target.shown.row
        context = self.panel_context(request, target, annotator)
        previous = following = None
        progress = None
        if not target.batch and not context["blocked"]:
            previous, following, progress = self.loop.neighbours(target.review_id)
        return context | {
            "segments": highlight.segments(shown.document, shown.region, row["evidence"], row.get("sections")),
            "outline": [
                {"anchor": highlight.section_anchor(k), "role": s["role"].replace("_", " "), "heading": s["heading"]}
                for k, s in enumerate(row.get("sections") or [])
            ],
            "vocabulary": self.workbench.vocabulary,
            "meanings": self.meanings,
            "previous": previous,
            "following": following,
            "progress": progress,
        }

    def render_review(self, request: Request, target: Target, status: int = 200, **extra: Any) -> Response:
        annotator = self.annotator_of(request)
        context = self.review_context(request, target, annotator) | {"problems": []} | extra
        if request.query_params.get("added"):
            context.setdefault("message", f"Added to the corpus as {target.review_id}.")
        for key, verb in (("recorded", "Recorded"), ("undone", "Undone")):  # after a form posted without script
            if decision := self.workbench.decisions.get(request.query_params.get(key, "")):
                context.setdefault("message", f"{verb}: {decision.action} {decision.task}/{decision.label}")
        return self.page(request, "review.html", status, **context)

    def answer(
        self, request: Request, target: Target, annotator: str, status: int, last: str = "", **extra: Any
    ) -> Response:
        """After a decision: JSON with the fresh panel for the page's script, else the page itself."""
        if wants_json(request):
            context = self.panel_context(request, target, annotator) | extra
            panel = self.fragment("label_panel.html", request, **context)
            body = {"ok": status < 400, "problems": extra.get("problems", []), "panel": panel}
            body["message"] = extra.get("message", "")
            return JSONResponse(body, status)
        if status < 400:
            return RedirectResponse(f"{target.url}?{last}#decisions", 303)
        return self.render_review(request, target, status, **extra)

    # routes -------------------------------------------------------------------------------------

    async def show_review(self, request: Request) -> Response:
        return self.render_review(request, self.batch_target(request))

    async def show_corpus_review(self, request: Request) -> Response:
        return self.render_review(request, self.corpus_target(request))

    async def correct(self, request: Request) -> Response:
        return await self._decide(request, self.batch_target(request))

    async def correct_corpus(self, request: Request) -> Response:
        return await self._decide(request, self.corpus_target(request))

    async def _decide(self, request: Request, target: Target) -> Response:
        """Record one decision; a refused or unwritten one comes back with the reasons and the form as typed."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        value = correction_form(form)
        annotator = self.annotator_of(request, form)
        try:
            if value["action"] not in ACTIONS:
                raise CorrectionError([f"unknown action {value['action'][:20]!r} (accept, reject or add)"])
            action = ACTIONS[value["action"]]
            decision = self.workbench.decide(
                target.review_id, value["task"], value["label"], action, value["evidence"], value["note"], annotator
            )
        except CorrectionError as exc:
            return self.answer(request, target, annotator, 422, problems=exc.problems, form=value)
        except OSError as exc:  # full disk: the line was not written, and the page must not say it was
            problems = [
                f"could not write to {self.workbench.corrections_dir} ({exc.strerror or exc}): nothing recorded"
            ]
            return self.answer(request, target, annotator, 507, problems=problems, form=value)
        message = f"Recorded: {decision.action} {decision.task}/{decision.label} as {annotator}"
        return self.answer(request, target, annotator, 200, f"recorded={decision.id}", message=message)

    async def undo(self, request: Request) -> Response:
        """Remove a decision's line this server wrote; `back` is followed only when it is a review page of
        this site, so the form cannot be used as an open redirect."""
        form = await read_form(request, self.secret, self.max_upload_bytes)
        back = str(form.get("back") or "/")
        decision = self.workbench.undo(request.path_params["decision_id"])
        local = re.fullmatch(r"/batch/[\w-]+/review/\d+|/corpus/[\w.-]+", back)
        if wants_json(request) and decision is not None and local:
            target = self._target_from_url(back)
            message = f"Undone: {decision.action} {decision.task}/{decision.label}"
            return self.answer(request, target, self.annotator_of(request, form), 200, message=message)
        if decision is None:
            return self.message(request, 404, "Nothing to undo", "That line is already gone.")
        return RedirectResponse(f"{back if local else '/'}?undone={decision.id}#decisions", 303)

    def _target_from_url(self, url: str) -> Target:
        parts = url.strip("/").split("/")
        return (
            self.corpus_target_of(parts[1]) if parts[0] == "corpus" else self.batch_target_of(parts[1], int(parts[3]))
        )

    async def withdraw(self, request: Request) -> Response:
        """Take back one of your own lines on file for this review (from any session)."""
        is_corpus = "review_id" in request.path_params
        target = self.corpus_target(request) if is_corpus else self.batch_target(request)
        form = await read_form(request, self.secret, self.max_upload_bytes)
        annotator = self.annotator_of(request, form)
        line = self.workbench.withdraw(target.review_id, str(form.get("origin") or ""), annotator)
        if line is None:
            problems = [f"that line is not one of {annotator}'s lines for this review, or it is already gone"]
            return self.answer(request, target, annotator, 404, problems=problems)
        return self.answer(request, target, annotator, 200, message=f"Withdrawn: {line[:120]}")

    async def done(self, request: Request) -> Response:
        """Mark the review checked by this annotator, then go on to the next review in the queue."""
        target = self.corpus_target(request)
        form = await read_form(request, self.secret, self.max_upload_bytes)
        annotator = self.annotator_of(request, form)
        try:
            self.loop.check(target.review_id, annotator)
        except CorrectionError as exc:
            return self.render_review(request, target, 422, problems=exc.problems)
        _, following, _ = self.loop.neighbours(target.review_id)
        return RedirectResponse(f"/corpus/{following}?after={target.review_id}" if following else "/queue?done=1", 303)

    async def add_to_corpus(self, request: Request) -> Response:
        """Store the batch's uploaded file under data/raw/added/ and open the review for correction."""
        target = self.batch_target(request)
        await read_form(request, self.secret, self.max_upload_bytes)
        name = target.shown.row["source"].split(":", 1)[0]
        stored = target.batch.files.get(name)
        if stored is None or not stored.exists():
            return self.message(request, 410, "Not added", "The upload is no longer on the server; upload it again.")
        results = self.loop.add([stored], [name])
        result = results[0] if results else None
        if result is None or result.status == "error":
            reason = result.reason if result else "nothing was read"
            return self.message(request, 422, "Not added", f"{target.shown.row['source']}: {reason}")
        wanted = target.review_id if target.review_id in result.review_ids else result.review_ids[0]
        return RedirectResponse(f"/corpus/{wanted}?added=1", 303)


def correction_form(form: FormData) -> dict[str, str]:
    """The correction form's fields as strings, missing ones empty, so validation sees every field and
    reports every problem at once. The add form names its label as `task:label`."""
    value = {k: str(form.get(k) or "") for k in CORRECTION_FIELDS}
    if ":" in value["label"]:
        value["task"], value["label"] = value["label"].split(":", 1)
    return value
