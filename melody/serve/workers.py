"""Generation in supervised worker processes: a crash costs one request, not the server.

Generating a result runs compiled and native code on the server's behalf: numba's kernels, torch,
FluidSynth, LAME. A fault in any of them (a segmentation fault, an abort, memory running out) ends
the process it happens in. So the server (``Playground(isolated=True)``) runs each generation in one
of a few worker processes, each with its own models and synthesizers, one request at a time: the
worker count is the number of generation slots. When a worker dies, the request it was serving gets
a message, the worker is started again, and the server goes on; a worker that takes longer than
``deadline_s`` is stopped the same way (``Settings`` bound the work, this bounds the time).

A worker is a fresh interpreter (``python -m melody.serve.workers``: nothing of the server's threads, locks
or page is inherited, as a forked process would inherit them) that imports ``melody``, loads the default model and renders a few notes before it takes requests,
in the background while the server starts. Results come back in stages, as the methods it runs
yield them (the audio first, then the pictures). Its files are written into folders the server
makes, under the server's storage, so that only the server decides what is kept.
"""
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from ..errors import MelodyError
from ..settings import TIME_LIMITS

log = logging.getLogger("melody")
CRASHED = ("The generator stopped unexpectedly while making this result (it crashed: this is a bug, and it is "
           "logged). It has been restarted: try again, or try other settings.")
TOO_LONG = ("Making this result took longer than {seconds:g} s, so it was stopped. Ask for fewer notes or "
            "variations, or fewer pins.")


class GenerationError(MelodyError):
    """A worker died or ran out of time while serving a request."""


def _serve(connection, recipe):
    """A worker's life: build what ``recipe`` says (``{"factory": "module:name", "kwargs": {...}}``:
    the server's ``Playground``), warm it up, then run what the server asks, one call at a time,
    sending back each value a generator yields (or the one value a function returns), then
    ``("done", None)``; errors go back as ``("error", exc)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the server's to handle
    import importlib

    import torch

    from .server import one_line_log

    one_line_log()
    torch.set_num_threads(1)  # one core per request, as in the server: the workers run side by side

    module, name = recipe["factory"].split(":")
    playground = getattr(importlib.import_module(module), name)(**recipe["kwargs"])
    try:
        playground.warm_up()
    except MelodyError as exc:  # no checkpoint, say: every request will say so
        log.info("worker warm-up: %s", exc)
    connection.send(("ready", None))
    while True:
        try:
            method, args, kwargs = connection.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            made = getattr(playground, method)(*args, **kwargs)
            for value in made if _is_generator(made) else [made]:
                connection.send(("value", value))
            connection.send(("done", None))
        except Exception as exc:  # handed to the server, which raises it in the request
            connection.send(("error", exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}")))


def _is_generator(value):
    return hasattr(value, "__next__") and hasattr(value, "send")


def _picklable(exc):
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return True
    except Exception:
        return False


class _Worker:
    """One worker process and the server's end of the socket between them."""

    def __init__(self, number, recipe):
        self.number, self.recipe = number, recipe
        self._start()

    def _start(self):
        ours, theirs = socket.socketpair()
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # where melody is imported from
        path = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen([sys.executable, "-m", "melody.serve.workers", str(theirs.fileno()),
                                         json.dumps(self.recipe)], pass_fds=[theirs.fileno()],
                                        stdin=subprocess.DEVNULL, start_new_session=True,
                                        env=dict(os.environ, PYTHONPATH=path))
        theirs.close()
        self.connection = Connection(ours.detach())
        self.ready = False

    def receive(self, timeout):
        """The next message, or None after ``timeout`` seconds; ``EOFError`` when the worker died."""
        if not self.connection.poll(timeout):
            return None
        return self.connection.recv()

    def wait_ready(self, timeout):
        while not self.ready:
            message = self.receive(timeout)
            if message is None:
                raise GenerationError("The generator did not start in time: try again in a minute.")
            self.ready = message[0] == "ready"

    def alive(self):
        return self.process.poll() is None

    def restart(self, why, died=False):
        """Stop the process (``died``: it is ending by itself; how it ended is logged) and start another."""
        try:
            code = self.process.wait(5) if died else None
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            self.process.kill()
            self.process.wait()
        else:
            why = f"{why}: {_ending(code)}"
        log.warning("generation worker %d %s; started again", self.number, why)
        self.connection.close()
        self._start()

    def stop(self, deadline):
        """Let the process end by itself until ``deadline`` (``time.monotonic()``), then kill it. A
        worker still warming up would not notice the socket's end until it is ready: it is killed."""
        if not self.ready:
            self.process.kill()
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _ending(code):
    """How a process ended, in words: ``"killed by SIGSEGV"``, ``"exit status 1"``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class Workers:
    """``count`` worker processes, each serving what ``factory(**kwargs)`` builds (``factory``:
    ``"module:name"``, imported in the worker; the server's is ``melody.serve.playground:Playground``);
    ``run`` takes an idle one (waiting for it: the workers are the generation slots) and streams what
    it makes."""

    def __init__(self, count, factory, kwargs, deadline_s=None, start_timeout_s=300.0):
        # the longest a generation may take: TIME_LIMITS.generation unless given
        self.deadline_s = TIME_LIMITS.generation if deadline_s is None else deadline_s
        self.start_timeout_s = start_timeout_s
        self.count, self.recipe = max(1, int(count)), {"factory": factory, "kwargs": kwargs}
        self._idle = queue.Queue()
        self._all = []
        self._lock = threading.Lock()
        self.closed = False

    def start(self):
        """Start the worker processes (once; the first request or ``wait_ready`` does it otherwise)."""
        with self._lock:
            while len(self._all) < self.count and not self.closed:
                worker = _Worker(len(self._all) + 1, self.recipe)
                self._all.append(worker)
                self._idle.put(worker)

    def run(self, method, *args, **kwargs):
        """A generator of what ``Playground.<method>(*args, **kwargs)`` yields (or returns) in a worker.

        Raises what the method raised, or ``GenerationError`` when the worker died or ran past the
        deadline (it is then started again for the next request)."""
        self.start()
        worker = self._idle.get()
        healthy = False
        try:
            if not worker.alive():  # it died while idle: the request it would have cost is this one, so start another
                worker.restart("had ended while idle", died=True)
            worker.wait_ready(self.start_timeout_s)
            worker.connection.send((method, args, kwargs))
            started = time.monotonic()
            while True:
                left = self.deadline_s - (time.monotonic() - started)
                message = worker.receive(max(left, 0.0)) if left > 0 else None
                if message is None:
                    worker.restart(f"ran past {self.deadline_s:g} s")
                    raise GenerationError(TOO_LONG.format(seconds=self.deadline_s))
                kind, value = message
                if kind == "value":
                    yield value
                elif kind == "done":
                    healthy = True
                    return
                else:
                    healthy = True
                    raise value
        except (EOFError, ConnectionError, BrokenPipeError):
            worker.restart("died while generating", died=True)
            raise GenerationError(CRASHED) from None
        finally:
            if not healthy and worker.alive() and worker.ready:  # the caller stopped reading mid-way
                worker.restart("was left mid-way")
            self._idle.put(worker)

    def call(self, method, *args, **kwargs):
        """The last (or only) value of :meth:`run`."""
        made = None
        for made in self.run(method, *args, **kwargs):  # noqa: B007  (the last value is the answer)
            pass
        return made

    def pids(self):
        return [worker.process.pid for worker in self._all]

    def wait_ready(self, timeout=None):
        """Wait until every worker has warmed up (``timeout``: the start-up limit); returns at once,
        quietly, when the workers are being closed meanwhile (the server is stopping)."""
        self.start()
        taken = [self._idle.get() for _ in self._all]
        try:
            for worker in taken:
                worker.wait_ready(timeout or self.start_timeout_s)
        except (OSError, EOFError):
            if not self.closed:
                raise
        finally:
            for worker in taken:
                self._idle.put(worker)

    def close(self):
        """Stop every worker: the ends of their sockets first (an idle worker returns at once), then each
        is waited for, 5 s in all, or killed."""
        self.closed = True
        for worker in self._all:
            worker.connection.close()
        deadline = time.monotonic() + 5.0
        for worker in self._all:
            worker.stop(deadline)


def main(argv=None):
    """``python -m melody.serve.workers FD KWARGS``: serve the server at the other end of socket ``FD``."""
    argv = sys.argv[1:] if argv is None else argv
    connection = Connection(int(argv[0]))
    try:
        _serve(connection, json.loads(argv[1]))
    except KeyboardInterrupt:
        pass
    finally:
        os._exit(0)  # no clean-up of the server's files here: they are the server's


if __name__ == "__main__":
    main()
