"""Ctrl-C and SIGTERM as a polite request to stop, which long loops (encoding, training) check."""
import signal
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum):
    """``"Ctrl-C"`` for SIGINT, else the signal's name (``"SIGTERM"``)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class StopRequest:
    """Turns the first Ctrl-C or SIGTERM into a polite stop at the next check; a second Ctrl-C aborts.

    ``requested`` is true once a stop was asked for, ``signum`` the signal that asked.
    """

    def __init__(self):
        self.requested = False
        self.signum = None
        self._previous = {}

    def _handle(self, signum, _frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum

    def __enter__(self):
        for sig in STOP_SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def worker_signals():
    """Signal handling for a worker process of a pool (its initializer). Ctrl-C reaches every
    process of the terminal's group: the parent handles it and stops the workers, so a worker ignores
    it (no traceback per worker). SIGTERM ends a worker at once, as the parent's stop needs; the
    parent's polite handler, inherited through fork, would keep it running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def sigterm_deferred():
    """Hold SIGTERM back while a short write completes, so that a process stopped during it leaves
    the whole file or none of it (and no temporary file); the signal acts right after."""
    if not hasattr(signal, "pthread_sigmask"):  # not on Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
