"""The server's files on disk: uploads (stored by Gradio) and results (ours), in one folder per
running server, bounded in total size, removed when the server stops and, if it was killed, when
the next one starts.

When room is needed the oldest files go first, but never a result still being made (``holding``)
nor anything made in the last ``TIME_LIMITS.fetch_grace`` seconds (a result just made is about to be fetched,
an upload about to be read): when only such files are left, a request gets a ``StorageFull``
message instead. So the folder can pass its quota by the results in flight, briefly.

Gradio copies every file an event returns into its cache folder unless the file is already there,
so results are written straight into that folder (``GRADIO_TEMP_DIR`` is pointed at ``root``):
each result is on disk once.
"""
import errno
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import MelodyError
from ..settings import TIME_LIMITS

FOLDER_NAME = "melody-playground"
DEFAULT_MAX_BYTES = 1 << 30  # uploads and results together
MIN_FREE_BYTES = 256 * 1024  # room a new result needs at least (a short one: an MP3, a picture, a MIDI file)
DISK_FULL = ("The server's disk is full, even after deleting the older results it could: try again in a few "
             "minutes. (Whoever runs the server: free some space.)")


class StorageFull(MelodyError):
    """No room for a result or an upload: the storage's quota, or the disk, is full of files in use."""


def disk_full(exc):
    """Whether an ``OSError`` says the disk (or the user's disk quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


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
    root : path, optional
        An existing server's folder, to write into (a generation worker's view): nothing is made,
        and ``close`` removes nothing.
    """

    def __init__(self, base=None, max_bytes=DEFAULT_MAX_BYTES, root=None):
        self.owner = root is None
        if root is None:
            base = Path(base or os.environ.get("MELODY_TMP") or tempfile.gettempdir()) / FOLDER_NAME
            base.mkdir(parents=True, exist_ok=True)
            remove_stale(base)
            root = tempfile.mkdtemp(dir=base, prefix=f"{os.getpid()}-")
        self.root = Path(root).resolve()
        self.results = self.root / "results"
        self.static = self.root / "static"  # files made once per server (the grid's note samples): kept
        for folder in (self.results, self.static):
            folder.mkdir(exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._held = {}  # folder -> how many are writing into it

    def new_folder(self, prefix, needed_bytes=MIN_FREE_BYTES):
        """A new folder for one result's files, after making room for it (``StorageFull`` when the
        files in the way are all in use)."""
        if not self.make_room(needed_bytes):
            raise StorageFull(f"The server's storage is full ({self.max_bytes / 2**20:g} MB) of results still being "
                              "made or fetched: try again in a minute.")
        try:
            return Path(tempfile.mkdtemp(dir=self.results, prefix=prefix))
        except OSError as exc:
            if disk_full(exc):
                raise StorageFull(DISK_FULL) from None
            raise

    @contextmanager
    def holding(self, folder):
        """While this lasts, ``folder`` is never deleted to make room (its files are being written)."""
        folder = Path(folder)
        with self._lock:
            self._held[folder] = self._held.get(folder, 0) + 1
        try:
            yield folder
        finally:
            with self._lock:
                self._held[folder] -= 1
                if not self._held[folder]:
                    del self._held[folder]
            try:
                os.utime(folder)  # finished now: fetched next
            except OSError:
                pass

    def free_disk(self):
        """After the disk ran out: delete every file not in use (a full disk is no time to keep old
        results for an hour); returns whether any space was freed."""
        before = self.used_bytes()
        self.make_room(self.max_bytes + before)
        return self.used_bytes() < before

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

    def make_room(self, needed_bytes, max_age_seconds=None):
        """Delete files older than ``max_age_seconds``, then the oldest ones until ``needed_bytes``
        more fit under ``max_bytes``, passing over files in use (see the module). Returns whether
        they fit. ``max_age_seconds`` defaults to ``TIME_LIMITS.file_lifetime``."""
        if max_age_seconds is None:
            max_age_seconds = TIME_LIMITS.file_lifetime
        with self._lock:
            entries = self.entries()
            used = sum(size for _, size, _ in entries)
            now = time.time()
            for mtime, size, path in entries:
                expired = mtime < now - max_age_seconds
                if not expired and used + needed_bytes <= self.max_bytes:
                    break
                if path in self._held or (not expired and mtime >= now - TIME_LIMITS.fetch_grace):
                    continue  # being written, or just made: about to be fetched or read
                _remove(path)
                used -= size
            return used + needed_bytes <= self.max_bytes

    def close(self):
        """Remove the whole folder (the server is stopping); a storage given its ``root`` (a worker's
        view of the server's folder) leaves it to its owner."""
        if self.owner:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def filled(folder):
    """Files are being written into ``folder``: if that fails, the folder goes (no half-written files
    are left), and a full disk is said as ``StorageFull``."""
    try:
        yield Path(folder)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if disk_full(exc):
            raise StorageFull(DISK_FULL) from None
        raise


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
