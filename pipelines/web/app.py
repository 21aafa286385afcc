"""The workbench's ASGI application: `create_app` builds the shared state and wires the routes to it.

The routes themselves are in `routes` (methods of `Site`); this module only decides what one server
process holds (one batch store, one CSRF secret, the models on offer) and wraps the Starlette app in
`Guard`, so every request passes the host check, the upload limit and the CSRF cookie, and every
response carries the security headers, before and after any route runs. Between the two sits
`AccessGate`: with credentials (`access`) it asks every request for them and serves the sign-in page;
without (loopback, no token) it only sets `request.state.user = None`, so the routes can always read it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from pipelines import paths
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling import registry
from pipelines.web.access import Access, AccessGate
from pipelines.web.batches import BatchStore
from pipelines.web.routes import Site
from pipelines.web.security import LOOPBACK_HOSTS, Guard, new_secret
from pipelines.web.workbench import Workbench


def create_app(
    workbench: Workbench,
    max_upload_bytes: int = 64 * 2**20,
    allowed_hosts: frozenset[str] | None = LOOPBACK_HOSTS,
    models_dir: Path | None = None,
    keep_batches: int = 50,
    access: Access | None = None,
    retrain_command: list[str] | None = None,
) -> Guard:
    """The ASGI application. `allowed_hosts=None` accepts any Host header (a non-loopback bind);
    `access=None` asks for no token (loopback only: `reviewtag serve` refuses anything else)."""
    secret = new_secret()
    site = Site(
        workbench=workbench,
        store=BatchStore(keep_batches),
        secret=secret,
        max_upload_bytes=max_upload_bytes,
        choices=model_choices(models_dir or paths.resolve(paths.MODELS)),
    )
    site.retrain_command = retrain_command  # None: `dvc repro`
    app = Starlette(routes=site.routes(), exception_handlers=site.exception_handlers(), lifespan=site.lifespan)
    gate = AccessGate(app, access, secret, max_upload_bytes)
    guard = Guard(gate, secret, max_upload_bytes, allowed_hosts)
    guard.store, guard.workbench, guard.gate, guard.site = site.store, workbench, gate, site  # tests, benchmark
    return guard


def model_choices(models_dir: Path) -> list[str]:
    """The index page's model menu: `champion`, then every kind trained locally for all the tasks (a kind
    trained for one task only would fail the batch, so it is not offered)."""
    return ["champion", *(k for k in registry.kinds() if all((models_dir / t / k).is_dir() for t in TASKS))]
