"""`reviewtag retrain`: `dvc repro` one at a time, in the background, with progress, a log and a compare
report of the retrained models against the champion; and `promote`, the only thing that moves the alias.

One job = experiments/retrain/<id>/ (id: its UTC start time) with `log.txt` (the command's stdout and
stderr), `status.json` (rewritten atomically, so the page can read it at any moment), `pid` (the runner's),
and when done `compare.json` + `compare.md`.

Why a runner process (`python -m pipelines.retrain_runner FOLDER`) rather than a thread in the server:
the lock is a `flock` on experiments/retrain/lock that `start()` takes and hands to the runner through an
inherited descriptor, so no second start can slip in between; the kernel drops it when the runner ends,
however it ends (crash, kill -9), so a stale lock never blocks. The command does not inherit it. A thread
would tie a 3-minute repro to the web server's life and load MLflow and torch (the compare step) into it.

Nothing is promoted here: the evaluate stage moves `champion` to its own choice, and the runner puts the
alias back where it was before the repro (the report says what it had moved).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines import paths
from pipelines.records import write_json

RETRAIN_DIR = Path("experiments/retrain")
LOCK_FILE = "lock"
DEFAULT_COMMAND = ["dvc", "repro"]
ACTIVE = ("queued", "running", "comparing")  # then done | failed
JOB_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
STAGE = re.compile(r"^(?:Running stage '([^']+)':|Stage '([^']+)' (?:didn't change, skipping|is cached))")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAIL_LINES = 40


class RetrainBusy(RuntimeError):
    """Another retrain holds the lock."""


class RetrainError(RuntimeError):
    """No such job, or a job folder that cannot be read."""


@dataclass
class RetrainJob:
    id: str
    folder: Path
    pid: int

    @property
    def log(self) -> Path:
        return self.folder / "log.txt"

    @property
    def report(self) -> Path:
        return self.folder / "compare.md"

    def status(self) -> dict[str, Any]:
        return read_status(self.folder)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _base(root: str | Path | None) -> Path:
    return (Path(root).resolve() if root else paths.project_root()) / RETRAIN_DIR


def planned_stages(root: Path) -> list[str]:
    """The stage names `dvc repro` walks, from dvc.yaml (a `foreach` stage is one per item)."""
    import yaml

    try:
        stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")).get("stages", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return []
    names = []
    for name, body in stages.items():
        items = body.get("foreach") if isinstance(body, dict) else None
        names += [f"{name}@{item}" for item in items] if isinstance(items, (list, dict)) else [name]
    return names


def _lock(base: Path, blocking: bool = False) -> int | None:
    """An open descriptor holding the retrain lock, or None where another process holds it."""
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def running(root: str | Path | None = None) -> dict[str, Any] | None:
    """The status of the retrain that holds the lock now, or None. Takes the lock for an instant."""
    base = _base(root)
    fd = _lock(base)
    if fd is not None:
        os.close(fd)
        return None
    holder = (base / LOCK_FILE).read_text(encoding="utf-8").strip()
    try:
        return status(holder, root)
    except RetrainError:
        return {"id": holder or "unknown", "state": "running"}


def _new_folder(base: Path) -> tuple[str, Path]:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        job_id = stamp if n == 0 else f"{stamp}-{n}"
        try:
            (base / job_id).mkdir()
            return job_id, base / job_id
        except FileExistsError:
            continue
    raise RetrainError(f"no free job folder for {stamp}")


def resolved_command(command: list[str]) -> list[str]:
    """`dvc` as installed beside this Python (a server started by path may not have the venv on PATH)."""
    if command and command[0] == "dvc":
        sibling = Path(sys.executable).with_name("dvc")
        if sibling.is_file():
            return [str(sibling), *command[1:]]
        if not shutil.which("dvc"):
            return [sys.executable, "-m", "dvc", *command[1:]]
    return list(command)


def start(by: str, command: list[str] | None = None, root: str | Path | None = None) -> RetrainJob:
    """Start a retrain in the background and return at once; RetrainBusy while another one runs."""
    by = (by or "").strip()
    if not by:
        raise ValueError("say who starts the retrain (by)")
    root_dir = Path(root).resolve() if root else paths.project_root()
    base = root_dir / RETRAIN_DIR
    fd = _lock(base)
    if fd is None:
        busy = running(root_dir) or {}
        raise RetrainBusy(
            f"retrain {busy.get('id', '?')} ({busy.get('state', 'running')}, started by {busy.get('by', '?')} "
            f"at {busy.get('started', '?')}) is running; wait for it to finish"
        )
    try:
        job_id, folder = _new_folder(base)
        os.ftruncate(fd, 0)
        os.pwrite(fd, job_id.encode(), 0)
        command = list(command or DEFAULT_COMMAND)
        state = {"id": job_id, "state": "queued", "by": by, "command": command, "started": now(), "finished": None}
        write_json(folder / "status.json", state | {"stage": None, "stage_index": 0, "stage_count": 0})
        env = os.environ | {paths.ROOT_ENV: str(root_dir), "PYTHONUNBUFFERED": "1"}
        env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a log of bars hides the stages
        with open(folder / "log.txt", "a", encoding="utf-8") as log:
            process = _spawn(folder, fd, root_dir, env, log)
        (folder / "pid").write_text(str(process.pid), encoding="utf-8")
        threading.Thread(target=process.wait, daemon=True).start()  # reaped: no zombie looks alive
    finally:
        os.close(fd)  # the runner holds the lock now (or, if it never started, nobody does)
    return RetrainJob(job_id, folder, process.pid)


def _spawn(folder: Path, fd: int, root: Path, env: dict[str, str], log: Any) -> subprocess.Popen:
    """The runner, holding the lock through `fd`; a runner that cannot start leaves a failed job."""
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.retrain_runner", str(folder), "--lock-fd", str(fd)],
            cwd=root,
            env=env,
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # a closed terminal or a restarted page does not stop the repro
        )
    except OSError as exc:
        state = json.loads((folder / "status.json").read_text(encoding="utf-8"))
        write_json(folder / "status.json", state | {"state": "failed", "finished": now(), "error": str(exc)})
        raise RetrainError(f"cannot start the retrain runner: {exc}") from exc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(folder: Path) -> dict[str, Any]:
    """status.json, with an active job whose runner has gone reported as failed (it cannot finish)."""
    try:
        state = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RetrainError(f"{folder.name}: no readable status ({exc})") from exc
    pid_file = folder / "pid"
    if state.get("state") in ACTIVE and pid_file.is_file():
        pid = int(pid_file.read_text(encoding="utf-8") or 0)
        if pid and not _alive(pid):
            state |= {"state": "failed", "error": f"the runner (pid {pid}) ended without finishing: killed?"}
            state.setdefault("log_tail", log_tail(folder))
    return state | {"log": paths.shown(folder / "log.txt")}


def job_folder(job_id: str, root: str | Path | None = None) -> Path:
    """A job's folder; RetrainError for an id that is malformed or unknown (never a path outside the jobs)."""
    if not JOB_ID.match(job_id or ""):
        raise RetrainError(f"{job_id!r} is not a retrain job id")
    folder = _base(root) / job_id
    if not folder.is_dir():
        raise RetrainError(f"no retrain job {job_id}")
    return folder


def status(job_id: str, root: str | Path | None = None) -> dict[str, Any]:
    """One job's status; RetrainError for an id that is malformed or unknown."""
    return read_status(job_folder(job_id, root))


def jobs(root: str | Path | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Every job's status, newest first."""
    base = _base(root)
    if not base.is_dir():
        return []
    ids = sorted((p.name for p in base.iterdir() if p.is_dir() and JOB_ID.match(p.name)), reverse=True)
    out = []
    for job_id in ids[:limit] if limit else ids:
        try:
            out.append(read_status(base / job_id))
        except RetrainError:
            continue
    return out


def latest(root: str | Path | None = None) -> dict[str, Any] | None:
    found = jobs(root, limit=1)
    return found[0] if found else None


def log_tail(folder: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = (folder / "log.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def promote(
    task: str, kind: str, version: str, by: str, reason: str, job_id: str | None = None, alias: str = "champion"
) -> dict[str, Any]:
    """Move the champion alias to one registered version, recording who, why and when on it (registry
    tags promoted_by / promoted_reason / promoted_at, and the retrain job). Refused without a name or a
    reason, and while a retrain runs (its evaluate stage would fight over the alias)."""
    from pipelines.retrain_registry import promote_version

    by, reason = (by or "").strip(), (reason or "").strip()
    if not by:
        raise ValueError("say who promotes (by)")
    if not reason:
        raise ValueError("say why this version should be the champion (reason)")
    busy = running()
    if busy:
        raise RetrainBusy(f"retrain {busy.get('id')} is running; promote once it has finished")
    return promote_version(task, kind, str(version), by, reason, job_id, alias)
