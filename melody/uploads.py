"""Reading uploaded MIDI files for the server without letting slow files hold up generation.

A hostile or merely dense file can take the sandbox's whole time limit to read. So uploads are read
by their own small pool of threads (each read runs in a sandboxed process, see ``seeds.read_upload``),
never inside a generation slot; each distinct content is read once (the result, or the error, is kept
by the SHA-256 of the bytes, and requests for content already being read wait for that one read);
and one session may have only a few reads of new content in flight.
"""
import hashlib
import threading
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .encoding import CLASSIC
from .errors import MidiError, SeedError
from .seeds import read_upload

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class UploadReader:
    """Reads MIDI uploads: at most ``workers`` at once, each content once, ``per_session`` new
    contents in flight per session.

    Parameters
    ----------
    workers : int
        Reads at the same time (each in its own sandboxed process).
    per_session : int
        Reads of not-yet-known content that one session may have in flight; more are refused.
    cached : int
        Results kept, by content (a ``Melody`` is a few kB).
    read : callable
        ``read(path, config) -> Melody``; the sandboxed reader by default.
    """

    def __init__(self, workers=2, per_session=2, cached=256, read=read_upload):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="upload-reader")
        self._read, self._cached, self._per_session = read, cached, per_session
        self._results = OrderedDict()  # digest -> Future of a Melody
        self._in_flight = Counter()  # session -> reads of new content not finished
        self._lock = threading.Lock()

    def melody(self, path, session=None, config=CLASSIC):
        """The ``Melody`` of the MIDI file at ``path`` in ``config``'s encoding; raises what reading it
        raised (``MidiError``), or ``SeedError`` when ``session`` already has ``per_session`` reads in flight."""
        digest = (_digest(path), config)
        with self._lock:
            future = self._results.get(digest)
            if future is not None:
                self._results.move_to_end(digest)
            else:
                if self._in_flight[session] >= self._per_session:
                    raise SeedError(f"{self._in_flight[session]} of your files are still being read: wait until "
                                    "they are done, then try again.")
                self._in_flight[session] += 1
                future = self._pool.submit(self._read, path, config)
                future.add_done_callback(lambda _: self._finished(session))
                self._results[digest] = future
                self._forget_oldest()
        return future.result()

    def _finished(self, session):
        with self._lock:
            self._in_flight[session] -= 1
            if self._in_flight[session] <= 0:
                del self._in_flight[session]

    def _forget_oldest(self):
        done = [d for d, f in self._results.items() if f.done()]
        for digest in done[: max(0, len(self._results) - self._cached)]:
            del self._results[digest]

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


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
