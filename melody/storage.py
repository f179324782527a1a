"""The server's files on disk: uploads (stored by Gradio) and results (ours), in one folder per
running server, bounded in total size, removed when the server stops and, if it was killed, when
the next one starts.

Gradio copies every file an event returns into its cache folder unless the file is already there,
so results are written straight into that folder (``GRADIO_TEMP_DIR`` is pointed at ``root``):
each result is on disk once.
"""
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

FOLDER_NAME = "melody-playground"
DEFAULT_MAX_BYTES = 1 << 30  # uploads and results together
FILE_LIFETIME_SECONDS = 3600


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _size(path):
    try:
        if path.is_dir():
            return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        return path.stat().st_size
    except OSError:
        return 0


class Storage:
    """One server's folder of files: ``root`` (Gradio's uploads and cache) and ``results`` in it.

    Parameters
    ----------
    base : path, optional
        Where servers keep their folders: ``$MELODY_TMP`` or the system's temporary folder, plus
        ``melody-playground/``. Folders there of servers that no longer run are removed.
    max_bytes : int
        The most the folder may hold; the oldest files go first when space is needed.
    """

    def __init__(self, base=None, max_bytes=DEFAULT_MAX_BYTES):
        base = Path(base or os.environ.get("MELODY_TMP") or tempfile.gettempdir()) / FOLDER_NAME
        base.mkdir(parents=True, exist_ok=True)
        self.removed_stale = remove_stale(base)
        self.root = Path(tempfile.mkdtemp(dir=base, prefix=f"{os.getpid()}-")).resolve()
        self.results = self.root / "results"
        self.results.mkdir()
        self.static = self.root / "static"  # files made once per server (the grid's note samples): kept
        self.static.mkdir()
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()

    def new_folder(self, prefix):
        """A new folder for one result's files, after making room for it."""
        self.make_room(0)
        return Path(tempfile.mkdtemp(dir=self.results, prefix=prefix))

    def entries(self):
        """``(mtime, size, path)`` of every upload and result folder, oldest first."""
        found = []
        for folder in (self.root, self.results):
            for entry in folder.iterdir():
                if entry in (self.results, self.static):
                    continue
                try:
                    found.append((entry.stat().st_mtime, _size(entry), entry))
                except OSError:
                    pass
        return sorted(found)

    def used_bytes(self):
        return sum(size for _, size, _ in self.entries())

    def make_room(self, needed_bytes, max_age_seconds=FILE_LIFETIME_SECONDS):
        """Delete files older than ``max_age_seconds``, then the oldest ones until ``needed_bytes``
        more fit under ``max_bytes``. Returns whether they fit."""
        with self._lock:
            entries = self.entries()
            used = sum(size for _, size, _ in entries)
            cutoff = time.time() - max_age_seconds
            for mtime, size, path in entries:
                if mtime >= cutoff and used + needed_bytes <= self.max_bytes:
                    break
                _remove(path)
                used -= size
            return used + needed_bytes <= self.max_bytes

    def close(self):
        """Remove the whole folder (the server is stopping)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale(base):
    """Remove the folders of servers that no longer run (killed without cleaning up); returns how many."""
    removed = 0
    for folder in Path(base).iterdir():
        pid = folder.name.split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
