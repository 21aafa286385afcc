"""`reviewtag retrain` and `reviewtag jobs`: the command functions, registered on the app by pipelines/cli.py
(`app.command()(retrain)`), so this module never imports the app. The work is in `pipelines.retraining`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from pipelines.cli_options import fail

POLL_SECONDS = 0.5


def _stage(i: int, name: str, action: str, count: int | None) -> str:
    return f"stage {i}/{count or '?'}: {name} {'skipped (unchanged)' if action == 'skipped' else 'running'}"


def _line(state: dict[str, Any]) -> str:
    if state.get("stage"):
        return _stage(state["stage_index"], state["stage"], state.get("stage_action", ""), state.get("stage_count"))
    return state["state"]


def follow(job_id: str, echo: Callable[[str], None], poll: float = POLL_SECONDS) -> dict[str, Any]:
    """Print a line for every stage met and every change of state until the job is done or failed (from
    status.json's stage list, so a stage shorter than the poll is still shown); its last status."""
    from pipelines import retraining

    stages_shown, state_shown = 0, None
    while True:
        state = retraining.status(job_id)
        stages = state.get("stages", [])
        for i, stage in enumerate(stages[stages_shown:], start=stages_shown + 1):
            echo(_stage(i, stage["name"], stage["action"], state.get("stage_count")))
        stages_shown = len(stages)
        if state["state"] != state_shown:
            echo(state["state"])
            state_shown = state["state"]
        if state["state"] not in retraining.ACTIVE:
            return state
        time.sleep(poll)


def retrain(
    by: Annotated[str, typer.Option("--by", help="who starts it (recorded in the job's status)")] = "analyst",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="follow it to the end (exit 0 done, 1 failed), or return at once")
    ] = True,
) -> None:
    """Retrain: `dvc repro` under a lock (one at a time), then a report of the retrained models against the
    champion. Promotes nothing: `reviewtag promote ... --by --reason` does."""
    from pipelines import retraining

    try:
        job = retraining.start(by)
    except (retraining.RetrainBusy, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"retrain {job.id} started by {by}; log: {job.log}", err=True)
    if not wait:
        typer.echo(job.id)
        return
    try:
        final = follow(job.id, lambda line: typer.echo(f"retrain {job.id}: {line}", err=True))
    except KeyboardInterrupt:
        typer.echo(f"retrain {job.id} goes on in the background: reviewtag jobs", err=True)
        raise typer.Exit(130) from None
    if final["state"] != "done":
        typer.echo(final.get("log_tail", ""), err=True)
        fail(f"retrain {job.id} failed: {final.get('error', 'see ' + str(job.log))}")
    for item in final.get("candidates", []):
        typer.echo(f"candidate {item['task']}: {item['kind']} version {item['version']}", err=True)
    typer.echo(f"report: {job.report}")


def jobs(
    limit: Annotated[int, typer.Option(help="how many of the newest jobs")] = 10,
) -> None:
    """The retrain jobs, newest first: id, state, who started it, when, and the stage it is in."""
    from pipelines import retraining

    for state in retraining.jobs(limit=limit):
        finished = f" -> {state['finished']}" if state.get("finished") else ""
        when = f"{state['started']}{finished}"
        typer.echo(f"{state['id']}  {state['state']:9s}  by {state['by']}  {when}  {_line(state)}")
