"""Reading uploaded MIDI files for the server without letting slow files hold up generation.

A hostile or merely dense file can take the sandbox's whole time limit to read. So uploads are read
by their own small pool of threads (each read runs in a sandboxed process, see ``seeds.read_upload``),
never inside a generation slot, and each distinct content is read once (the result, or the error, is
kept by the SHA-256 of the bytes; requests for content already being read wait for that one read).

A request waiting for a read still holds one of the server's request threads, so the waiting itself
is bounded: one client address may have ``per_client`` requests waiting (whatever session ids it
sends), and all clients together ``total``; past either, a request is refused at once with a
message. The server lets in more generation requests than ``total``, so requests with typed notes
or a file already read always find room.
"""
import hashlib
import threading
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import MidiError, SeedError
from ..music.encoding import RHYTHM
from ..settings import MAX_UPLOAD_BYTES
from .seed_sources import read_upload

PER_CLIENT = 2  # requests of one client address that may wait for reads at once
TOTAL = 8  # requests of all clients that may wait for reads at once


class UploadReader:
    """Reads MIDI uploads: at most ``workers`` at once, each content once, with at most ``per_client``
    requests of one client and ``total`` requests in all waiting for reads.

    Parameters
    ----------
    workers : int
        Reads at the same time (each in its own sandboxed process).
    per_client, total : int
        Requests that may wait for a read (of new content, or of content being read) at once: from
        one client address, and from all; more are refused.
    cached : int
        Results kept, by content (a ``Melody`` is a few kB).
    read : callable
        ``read(path, config) -> Melody``; the sandboxed reader by default.
    """

    def __init__(self, workers=2, per_client=PER_CLIENT, total=TOTAL, cached=256, read=read_upload):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="upload-reader")
        self._read, self._cached = read, cached
        self._per_client, self._total = per_client, total
        self._results = OrderedDict()  # digest -> Future of a Melody
        self._waiting = Counter()  # client -> its requests waiting for a read
        self._lock = threading.Lock()

    def melody(self, path, client=None, config=RHYTHM):
        """The ``Melody`` of the MIDI file at ``path`` in ``config``'s encoding; raises what reading it
        raised (``MidiError``), or ``SeedError`` when ``client`` (its address) or the server already
        has as many requests waiting for reads as it may."""
        digest = (_digest(path), config)
        with self._lock:
            future = self._results.get(digest)
            if future is not None:
                self._results.move_to_end(digest)
            if future is None or not future.done():
                self._wait_turn(client)
                if future is None:
                    future = self._results[digest] = self._pool.submit(self._read, path, config)
                    self._forget_oldest()
            else:
                client = _READ
        try:
            return future.result()
        finally:
            if client is not _READ:
                with self._lock:
                    self._waiting[client] -= 1
                    if self._waiting[client] <= 0:
                        del self._waiting[client]

    def _wait_turn(self, client):
        """Count one more request of ``client`` waiting for a read, or refuse it."""
        if self._waiting[client] >= self._per_client:
            raise SeedError(f"{self._waiting[client]} of your files are still being read: wait until they are done, "
                            "then try again.")
        if sum(self._waiting.values()) >= self._total:
            raise SeedError("The server is busy reading other people's files: try again in a minute, or type the "
                            "notes instead.")
        self._waiting[client] += 1

    def _forget_oldest(self):
        done = [d for d, f in self._results.items() if f.done()]
        for digest in done[: max(0, len(self._results) - self._cached)]:
            del self._results[digest]

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


_READ = object()  # the content is read already: nothing to wait for


def _digest(path):
    """SHA-256 of a file's bytes (refused, unread, when larger than an upload may be)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise MidiError(f"'{path.name}' is {size / 2**20:.1f} MB: MIDI files of at most "
                            f"{MAX_UPLOAD_BYTES >> 20} MB are read. Use a smaller file.")
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise MidiError(f"The uploaded file '{path.name}' is no longer on the server (uploads are kept for an "
                        "hour, or less when space runs short): upload it again.") from None
