"""Starting the playground's server: the command line, the port, this server's storage, the
playground and its page, launching them, and stopping on Ctrl-C or SIGTERM.

``app.py`` (and the ``melody-playground`` command) run :func:`main`. Nothing is made at import: the
storage, the playground and the page are made by the first call of :func:`playground_and_page`
(app.py's ``demo``, or :func:`main`), the signal handlers by :func:`serve`. melody.web.page lays the
page out; melody.serve.server guards the requests, expires sessions and finds ports.
"""
import argparse
import atexit
import os
import signal
import sys
import threading
import time

import gradio as gr

from ..errors import MelodyError
from ..serve import playground as pg
from ..serve import server
from ..serve.storage import Storage
from ..version import __version__
from .page import SESSION_IDLE_SECONDS, build, style_and_script

DEFAULT_PORT = 7860
SESSION_CAPACITY = 1000

_made = {}  # what this process made: "storage", and "page" (the playground and its page)


def storage():
    """This server's bounded storage of uploads and results, made at the first call (and deleted at exit).

    Gradio keeps uploads and a copy of every file an event returns in GRADIO_TEMP_DIR (read when a
    component or the server is made): it is pointed at this storage, where results are written, so
    that each result is on disk once; the storage is therefore made before any component.
    Gradio's reload mode imports melody.web again inside the running server (gr.NO_RELOAD is then
    False), which serves files from the folder it started with only: the storage made there writes
    into that folder too."""
    if "storage" not in _made:
        if not gr.NO_RELOAD and os.environ.get("GRADIO_TEMP_DIR"):
            made = Storage(root=os.environ["GRADIO_TEMP_DIR"])
        else:
            made = Storage(base=os.environ.get("MELODY_TMP") or os.environ.get("GRADIO_TEMP_DIR"))
        os.environ["GRADIO_TEMP_DIR"] = str(made.root)
        atexit.register(made.close)
        _made["storage"] = made
    return _made["storage"]


def make_playground(concurrency=2):
    """The server's playground: generation in ``concurrency`` worker processes (see ``melody.serve.workers``)."""
    return pg.Playground(voices=concurrency, storage=storage(), isolated=True)


def playground_and_page(concurrency=2):
    """This process's playground (generation in ``concurrency`` worker processes) and its page, made at
    the first call and kept: app.py's ``demo`` is the page :func:`main` serves, and Gradio's reload
    mode, which runs app.py again, finds the same page until a file changes (melody.web is then
    imported afresh). A call with another ``concurrency`` makes (and keeps) a new pair."""
    made = _made.get("page")
    if made is None or made[0].voices != concurrency:
        playground = make_playground(concurrency)
        made = _made["page"] = (playground, build(playground))
    return made


def default_page():
    """The page of ``python app.py`` and of Gradio's reload mode (``gradio app.py``): app.py's ``demo``.
    When it cannot be made (e.g. no checkpoint at all), one line and the process ends, not a traceback."""
    try:
        return playground_and_page()[1]
    except MelodyError as exc:
        sys.exit(f"error: {exc}")


def parse_args(argv=None):
    env = os.environ
    parser = argparse.ArgumentParser(prog="app.py", description="The melody playground: a web page to draw, "
                                     "upload or type a seed and hear an LSTM continue it.")
    parser.add_argument("--version", action="version", version=f"melody-playground {__version__}")
    parser.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or env.get("MELODY_HOST") or "127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only; 0.0.0.0 for your "
                             "network); also $GRADIO_SERVER_NAME or $MELODY_HOST")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default {DEFAULT_PORT}, or the next free one); also $GRADIO_SERVER_PORT or "
                             "$MELODY_PORT, which like --port must be free")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    parser.add_argument("--concurrency", type=int, default=2, help="generations served at once (default 2)")
    parser.add_argument("--allowed-host", action="append", metavar="NAME",
                        default=[n for n in (env.get("MELODY_ALLOWED_HOSTS") or "").split(",") if n.strip()],
                        help="a host name the server answers to besides localhost, its IP addresses and --host "
                             "(repeat it for more; *.example.com allows the subdomains); also $MELODY_ALLOWED_HOSTS, "
                             "comma-separated. Requests for any other name are refused (DNS rebinding).")
    parser.add_argument("--storage-mb", type=int, default=int(env.get("MELODY_STORAGE_MB") or 1024),
                        help="most disk space for uploads and results, in MB; the oldest go first "
                             "(default 1024; also $MELODY_STORAGE_MB)")
    args = parser.parse_args(argv)
    chosen = args.port if args.port is not None else (env.get("GRADIO_SERVER_PORT") or env.get("MELODY_PORT"))
    try:
        args.port = int(chosen) if chosen not in (None, "") else None
    except ValueError:
        parser.error(f"the port must be a number, got {chosen!r}")
    return args


def pick_port(host, port):
    """The port to serve on: a port that was asked for must be free; the default may move on to the
    next free one, which is said out loud."""
    if port is not None:
        if port != 0 and not server.port_is_free(host, port):
            raise MelodyError(f"Port {port} on {host} is in use: stop the program using it, or choose another "
                              "port with --port.")
        return port
    found = server.free_port(host, DEFAULT_PORT)
    if found is None:
        raise MelodyError(f"Ports {DEFAULT_PORT} to {DEFAULT_PORT + 20} on {host} are all in use: choose one with --port.")
    if found != DEFAULT_PORT:
        print(f"Port {DEFAULT_PORT} is in use: serving on port {found} instead.", flush=True)
    return found


def start(page, playground, args, expire_every_seconds=60.0):
    """Launch the page (without blocking) behind ``melody.serve.server.RequestGuard``; returns its address."""
    from starlette.middleware import Middleware

    port = pick_port(args.host, args.port)
    files = storage()
    files.max_bytes = args.storage_mb * 2**20
    server.random_upload_folders()
    page.queue(default_concurrency_limit=args.concurrency, max_size=64)
    threading.Thread(target=playground.warm_up, daemon=True).start()
    _, local_url, share_url = page.launch(
        **style_and_script(),
        server_name=args.host, server_port=port, share=args.share, max_file_size=f"{server.MAX_UPLOAD_BYTES >> 20}mb",
        footer_links=["api"], enable_monitoring=False, quiet=True, prevent_thread_lock=True,
        state_session_capacity=SESSION_CAPACITY,
        app_kwargs={"middleware": [Middleware(server.RequestGuard, storage=files, allowed_hosts=server.served_hosts(
            args.host, args.allowed_host, args.share))]})
    server.keep_expiring_sessions(page.server_app, SESSION_IDLE_SECONDS, SESSION_CAPACITY, expire_every_seconds)
    print(f"Melody playground: {local_url}" + (f" and {share_url}" if share_url else "")
          + f"  (model {playground.default_checkpoint().name}; sound: {playground.renderer(0).describe()}; "
          f"files in {files.root}, at most {args.storage_mb} MB)", flush=True)
    return local_url


def serve(page, playground, args):
    """Launch the page and block until Ctrl-C or SIGTERM; then stop and delete this server's files."""
    # The handler only appends to a list: one that took a lock (Event.set) could find it held by the
    # very wait it interrupted, and the server would never stop.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # before the address is printed: a stop may follow at once
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    start(page, playground, args)
    while page.is_running and not stop:
        time.sleep(0.2)  # a signal ends the sleep at once
    print("Stopping: deleting this server's uploads and results.", flush=True)
    page.close(verbose=False)
    playground.close()
    storage().close()


def main(argv=None):
    """Serve the playground until Ctrl-C or SIGTERM (``python app.py``, ``melody-playground``)."""
    try:
        _main(argv)
    except MelodyError as exc:
        sys.exit(f"error: {exc}")


def _main(argv):
    args = parse_args(argv)
    server.one_line_log()
    import torch

    torch.set_num_threads(1)  # one core per request: requests run side by side instead
    playground, page = playground_and_page(args.concurrency)
    serve(page, playground, args)
