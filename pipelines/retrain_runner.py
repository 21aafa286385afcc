"""The process that runs one retrain (`python -m pipelines.retrain_runner FOLDER --lock-fd N`), started by
`pipelines.retraining.start`: it holds the retrain lock for as long as it lives, notes the champion, runs
the command with its output teed into log.txt and the DVC stage it is in written to status.json, puts the
alias back, and writes the compare report. Every state change rewrites status.json atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

from pipelines import paths
from pipelines.records import write_json
from pipelines.retraining import ANSI, STAGE, log_tail, now, planned_stages, resolved_command


def _save(folder: Path, state: dict[str, Any]) -> None:
    write_json(folder / "status.json", state | {"updated": now()})


def _log(folder: Path, text: str) -> None:
    with open(folder / "log.txt", "a", encoding="utf-8") as log:
        log.write(text if text.endswith("\n") else text + "\n")


def _fail(folder: Path, state: dict[str, Any], error: str, code: int | None = None) -> int:
    state |= {"state": "failed", "finished": now(), "returncode": code, "error": error, "log_tail": log_tail(folder)}
    _save(folder, state)
    return 1


def progress(state: dict[str, Any], line: str) -> bool:
    """Note a DVC stage line ("Running stage 'x':", "Stage 'x' didn't change, skipping") in `state`;
    True when it was one. Stage i of n counts the stages met so far, run or skipped."""
    match = STAGE.match(ANSI.sub("", line).strip())
    if not match:
        return False
    name, action = match.group(1) or match.group(2), "running" if match.group(1) else "skipped"
    seen = state.setdefault("stages", [])  # every stage met, in order: a poller that blinks misses none
    names = [s["name"] for s in seen]
    if name not in names:
        seen.append({"name": name, "action": action})
        names.append(name)
    state["stage"], state["stage_action"], state["stage_index"] = name, action, names.index(name) + 1
    state["stage_count"] = max(state.get("stage_count") or 0, len(names))
    return True


def run_command(folder: Path, state: dict[str, Any], root: Path) -> int:
    """The command's exit status; its stdout and stderr go line by line to log.txt."""
    command = resolved_command(state["command"])
    env = os.environ | {"PYTHONUNBUFFERED": "1", "DVC_NO_ANALYTICS": "1"}
    with open(folder / "log.txt", "a", encoding="utf-8", buffering=1) as log:
        log.write(f"$ {shlex.join(command)}\n")
        try:
            process = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            log.write(f"cannot run {command[0]}: {exc}\n")
            return 127
        try:
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                if progress(state, line):
                    _save(folder, state)
            return process.wait()
        except BaseException:  # SIGTERM or a crash of ours: the command must not outlive the lock
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            raise


def _restore(folder: Path, state: dict[str, Any], before: dict) -> list[dict]:
    from pipelines import retrain_registry

    try:
        restored = retrain_registry.restore(before)
    except Exception as exc:  # MLflow errors come in many types; the report must still say so
        _log(folder, traceback.format_exc())
        state["alias_error"] = f"could not put the champion alias back: {exc}"
        return []
    state["alias_restored"] = restored
    return restored


def run(folder: Path) -> int:
    """The whole job; 0 done, 1 failed."""
    from pipelines import retrain_registry
    from pipelines.retrain_compare import write_report

    state = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    root = paths.project_root()
    state |= {"state": "running", "running_since": now(), "stage_count": len(planned_stages(root))}
    try:
        before = retrain_registry.snapshot()
    except Exception as exc:  # without it the alias could not be put back: do not start
        _log(folder, traceback.format_exc())
        return _fail(folder, state, f"cannot read the champion alias before the repro: {exc}")
    state["champion_before"] = {task: retrain_registry.short(found) for task, found in before.items()}
    _save(folder, state)
    try:
        code = run_command(folder, state, root)
    except BaseException:
        _restore(folder, state, before)
        _fail(folder, state, "stopped before the command finished")
        raise
    restored = _restore(folder, state, before)
    if code != 0:
        return _fail(folder, state, f"{shlex.join(state['command'])} exited with status {code}", code)
    state |= {"state": "comparing", "returncode": 0, "stage": None}
    _save(folder, state)
    try:
        report = write_report(folder, state["id"], before, restored)
    except Exception as exc:
        _log(folder, traceback.format_exc())
        return _fail(folder, state, f"the repro finished but the compare step failed: {exc}", 0)
    state |= {
        "state": "done",
        "finished": now(),
        "report": {"json": paths.shown(folder / "compare.json"), "md": paths.shown(folder / "compare.md")},
        "candidates": report["promote"],
    }
    _save(folder, state)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lock-fd", type=int, help="the inherited descriptor that holds the retrain lock")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    lock_fd = args.lock_fd  # held open (and so locked) until this process exits, however it exits
    try:
        code = run(args.folder)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    sys.exit(code)


if __name__ == "__main__":
    main()
