"""Serving the playground safely: what sits between the network and Gradio.

- ``RequestGuard``, an ASGI middleware: refuses requests that change something when they come from
  another web site (any page the user visits could otherwise POST uploads to a server on
  localhost), uploads that are not ``.mid``/``.midi`` or do not fit the storage quota, request
  bodies over a size limit, and Gradio's unauthenticated ``/monitoring`` pages.
- ``expire_sessions``: Gradio keeps a copy of the page's configuration for every session (about
  200 kB) until 10,000 sessions exist; sessions idle for a while are dropped here.
- ``free_port`` and ``one_line_log``: start-up and logging conventions.
"""
import json
import logging
import re
import socket
import threading
import time
from urllib.parse import urlsplit

log = logging.getLogger("melody")

MIDI_SUFFIXES = (".mid", ".midi")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024  # any other request: a seed text is at most 16 kB
UPLOAD_OVERHEAD_BYTES = 64 * 1024  # multipart headers around the file
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_FILENAME = re.compile(rb'filename\*?="?([^";\r\n]*)', re.IGNORECASE)


def _reply(status, message):
    body = json.dumps({"error": message, "detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def send_reply(send):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return send_reply


def same_origin(origin, host):
    """Whether a request's ``Origin`` header names the site it was sent to (its ``Host``). Loopback
    names (localhost, 127.0.0.1, [::1]) count as one site when the ports agree."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    sent_to = urlsplit("//" + (host or ""))
    default = 443 if parts.scheme == "https" else 80
    loopback = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
    names = {parts.hostname, sent_to.hostname}
    same_name = parts.hostname == sent_to.hostname or names <= loopback
    return same_name and (parts.port or default) == (sent_to.port or default)


def multipart_filenames(body, content_type):
    """File names of every part of a ``multipart/form-data`` body (only the parts' header lines
    are read: the boundary can't occur inside a part, by the format's definition)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match:
        return []
    names = []
    for part in body.split(b"--" + match.group(1).encode("latin-1"))[1:]:
        head = part.split(b"\r\n\r\n", 1)[0]
        found = _FILENAME.search(head)
        if found:
            names.append(found.group(1).decode("utf-8", "replace"))
    return names


class RequestGuard:
    """ASGI middleware in front of Gradio; see the module's docstring."""

    def __init__(self, app, storage=None, max_body_bytes=MAX_BODY_BYTES, max_upload_bytes=MAX_UPLOAD_BYTES):
        self.app, self.storage = app, storage
        self.max_body_bytes, self.max_upload_bytes = max_body_bytes, max_upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "/monitoring" in path:
            return await _reply(404, "Not found.")(send)
        if method not in CHANGING_METHODS:
            return await self.app(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, headers.get("host")):
            log.info("refused a %s %s from another site (%s)", method, path, origin[:80])
            return await _reply(403, "Requests from other web sites are refused: open the playground's own page.")(send)
        upload = path.rstrip("/").endswith("/upload")
        limit = self.max_upload_bytes + UPLOAD_OVERHEAD_BYTES if upload else self.max_body_bytes
        body = await _read_body(receive, limit)
        if body is None:
            most = self.max_upload_bytes if upload else self.max_body_bytes
            what = "Uploads" if upload else "Requests (a seed text is at most 16 kB)"
            return await _reply(413, f"{what} may be at most {_size_text(most)}: this one is larger.")(send)
        if upload:
            refusal = self._check_upload(body, headers.get("content-type"))
            if refusal:
                return await _reply(*refusal)(send)
        return await self.app(scope, _replay(body), send)

    def _check_upload(self, body, content_type):
        names = multipart_filenames(body, content_type)
        wrong = [n for n in names if not n.lower().endswith(MIDI_SUFFIXES)]
        if wrong:
            return 415, f"Invalid file type: only .mid and .midi files are accepted, got '{wrong[0][:60]}'."
        if self.storage is not None and not self.storage.make_room(len(body)):
            return 507, "The server's storage for uploads and results is full: try again in a few minutes."
        return None


def _size_text(size):
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size:,} bytes"


async def _read_body(receive, limit):
    """The whole request body, or None when it is longer than ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def expire_sessions(app, idle_seconds, capacity):
    """Drop Gradio's per-session state of sessions idle for more than ``idle_seconds``, and of the
    oldest sessions beyond ``capacity``. Returns how many were dropped. (Gradio's ``StateHolder``
    only evicts past 10,000 sessions and keeps each one's copy of the page configuration.)"""
    holder = app.state_holder
    cutoff = time.time() - idle_seconds
    dropped = 0
    with holder.lock:
        for session in list(holder.session_data):
            last = holder.time_last_used.get(session)
            if last is None or last.timestamp() < cutoff or len(holder.session_data) > capacity:
                holder.session_data.pop(session, None)
                holder.time_last_used.pop(session, None)
                dropped += 1
    return dropped


def keep_expiring_sessions(app, idle_seconds, capacity, every_seconds=60.0):
    """Run :func:`expire_sessions` every ``every_seconds`` in a daemon thread."""

    def loop():
        while True:
            time.sleep(every_seconds)
            try:
                expire_sessions(app, idle_seconds, capacity)
            except Exception as exc:  # never let housekeeping take the server down
                log.warning("expiring sessions failed: %s", exc)

    threading.Thread(target=loop, daemon=True, name="session-expiry").start()


def port_is_free(host, port):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host, port, search=20):
    """``port`` if it is free on ``host``, else the next free one of the following ``search``; None if none is."""
    for candidate in range(port, port + search + 1):
        if port_is_free(host, candidate):
            return candidate
    return None


class OneLine(logging.Formatter):
    """Log records as one line each, at most ``max_chars`` long, never with a traceback."""

    def __init__(self, max_chars=300):
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        self.max_chars = max_chars

    def format(self, record):
        record.exc_info = record.exc_text = None
        line = super().format(record).replace("\n", " ")
        return line if len(line) <= self.max_chars else line[: self.max_chars] + "..."


def one_line_log(level=logging.INFO):
    """Send the ``melody`` logger to stderr, one short line per record."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLine())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
