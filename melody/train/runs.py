"""A small record of training runs, so that ``train.py --resume`` finds the latest interrupted run
wherever its checkpoint was written (``--out`` anywhere).

The record is one JSON file beside the encoding cache (``$MELODY_CACHE/runs.json``, by default
``~/.cache/melody-playground/runs.json``): for each of the last ``MAX_RUNS`` runs, its resumable
state file, its checkpoint, its status (``running``, ``interrupted``, ``finished``), the process
that wrote it and when. Runs from before the record existed are found by looking in
``checkpoints/.resume/``.

It also keeps two runs from writing the same checkpoint at once: :func:`output_lock`.
"""
import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from ..data.corpus import default_cache_dir
from ..errors import CheckpointError, MelodyError
from ..model.checkpoint import FORMAT, read_file, read_training_state

RECORD_NAME = "runs.json"
MAX_RUNS = 50
RUNNING, INTERRUPTED, FINISHED = "running", "interrupted", "finished"


def record_path():
    """The record's file: ``runs.json`` in the cache folder (``$MELODY_CACHE``)."""
    return default_cache_dir() / RECORD_NAME


def read_runs():
    """The recorded runs, oldest first (an unreadable record is an empty one: it is only a finder)."""
    try:
        runs = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(runs, list):
        return []
    return [r for r in runs if isinstance(r, dict) and isinstance(r.get("state"), str) and r.get("status") in
            (RUNNING, INTERRUPTED, FINISHED)]


def record_run(state_path, checkpoint, status):
    """Note that the run whose resumable state is ``state_path`` is now ``status``."""
    state = str(Path(state_path).resolve())
    runs = [r for r in read_runs() if r["state"] != state]
    runs.append({"state": state, "checkpoint": str(Path(checkpoint).resolve()), "status": status,
                 "pid": os.getpid(), "time": time.time()})
    path = record_path()
    tmp = path.with_name(f".{RECORD_NAME}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(runs[-MAX_RUNS:], indent=1))
        os.replace(tmp, path)
    except OSError:  # a read-only cache folder must not stop training: the record only helps to find runs
        pass


def latest_interrupted(fallback_folder=None):
    """The state file of the most recent run that did not finish and is not running now.

    Parameters
    ----------
    fallback_folder : path, optional
        A ``.resume`` folder to look in when the record knows no such run (runs from before the
        record): its newest state file.

    Returns
    -------
    Path or None
    """
    for run in sorted(read_runs(), key=lambda r: r.get("time", 0), reverse=True):
        if run["status"] == FINISHED or run["status"] == RUNNING and _alive(run.get("pid")):
            continue
        if Path(run["state"]).is_file():
            return Path(run["state"])
    if fallback_folder is None:
        return None
    known = {r["state"] for r in read_runs()}
    older = [p for p in Path(fallback_folder).glob("*.pt") if str(p.resolve()) not in known]
    return next((p for p in sorted(older, key=lambda p: p.stat().st_mtime, reverse=True) if _unfinished(p)), None)


def finished(state):
    """Whether the run of a ``TrainingState`` finished: its state says so, or (for a state written
    before that mark existed) its checkpoint does."""
    checkpoint = state.checkpoint_path()
    return bool(state.finished or checkpoint.is_file() and read_file(checkpoint, FORMAT).get("finished"))


def _unfinished(state_file):
    try:
        return not finished(read_training_state(state_file))
    except CheckpointError:  # damaged: resuming it will say what is wrong
        return True


def _alive(pid):
    """Whether process ``pid`` runs (a run recorded as running may have been killed, e.g. SIGKILL)."""
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def lock_path(out_path):
    """The lock file of the run writing ``out_path``: ``<folder>/.resume/<name>.lock``, beside its state."""
    out_path = Path(out_path)
    return out_path.parent / ".resume" / f"{out_path.name}.lock"


@contextmanager
def output_lock(out_path):
    """Hold the lock on ``out_path`` for as long as this run writes it; ``MelodyError`` at once when
    another live run holds it. The lock is the kernel's (``flock``), so the lock file of a run that
    was killed (its process id is still written in it) is simply taken over."""
    path = lock_path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise MelodyError(f"{out_path} is being written by another training run (process "
                              f"{holder or 'unknown'}): wait for it to finish, stop it, or choose another --out.") from None
        try:
            same_file = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:  # its previous holder finished and removed it meanwhile
            same_file = False
        if same_file:
            break
        handle.close()
    try:
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a run that opens it later makes a new one
        handle.close()
