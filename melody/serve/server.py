"""Serving the playground safely: what sits between the network and Gradio.

- ``RequestGuard``, an ASGI middleware: refuses every request addressed to a host name the server
  does not serve (DNS rebinding: a web site whose name is made to resolve to 127.0.0.1 would
  otherwise reach this server as if it were its own); refuses requests that change something when
  they come from another web site (any page the user visits could otherwise POST uploads to a server on
  localhost), uploads that are not ``.mid``/``.midi`` or do not fit the storage quota, request
  bodies over a size limit, and Gradio's unauthenticated ``/monitoring`` pages.
- ``expire_sessions``: Gradio keeps a copy of the page's configuration for every session (about
  200 kB) until 10,000 sessions exist; sessions idle for a while are dropped here.
- ``free_port`` and ``one_line_log``: start-up and logging conventions.
"""
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from gradio_client.utils import strip_invalid_filename_characters
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..settings import MAX_UPLOAD_BYTES

log = logging.getLogger("melody")

MIDI_SUFFIXES = (".mid", ".midi")
MAX_BODY_BYTES = 1024 * 1024  # any other request: a seed text is at most 16 kB
UPLOAD_OVERHEAD_BYTES = 64 * 1024  # multipart headers around the file
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _reply(status, message):
    body = json.dumps({"error": message, "detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def send_reply(send):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return send_reply


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(host):
    """The name in a ``Host`` header (``"[::1]:7860"`` -> ``"::1"``), lower case, without a final dot;
    None when it is not a host name at all."""
    try:
        name = urlsplit("//" + (host or "")).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def served_hosts(host="127.0.0.1", extra=(), share=False):
    """The host names the server answers to: loopback, the address it listens on (unless that is
    every address: 0.0.0.0 or ::), ``extra`` names (a deployment's own; ``*.example.com`` allows
    its subdomains), and gradio.live's names with ``share``. IP addresses are always served (see
    ``host_allowed``)."""
    names = set(LOOPBACK_NAMES)
    name = host_name(host if ":" not in host or host.startswith("[") else f"[{host}]")
    if name and name not in ("0.0.0.0", "::"):
        names.add(name)
    names.update(n.strip().lower().rstrip(".") for n in extra if n and n.strip())
    if share:
        names.add("*.gradio.live")
    return frozenset(names)


def host_allowed(host, allowed):
    """Whether a request's ``Host`` header names this server: one of ``allowed`` (see
    ``served_hosts``), or an IP address (a page reached by its IP address is that address's own;
    rebinding needs a name)."""
    name = host_name(host)
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name in allowed or any(a.startswith("*.") and name.endswith(a[1:]) for a in allowed)


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


class UnreadableForm(ValueError):
    """An upload's body is not a multipart form Gradio could read."""


def multipart_filenames(body, content_type):
    """The names Gradio will store every file part of a ``multipart/form-data`` body under, found by
    parsing the body as Gradio's upload route does (the same parser, boundary and header rules, the
    same clean-up of the name), so that no spelling of the boundary or of a part's header reads one
    way here and another way there. Raises ``UnreadableForm`` when it cannot be parsed."""
    _, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if not boundary:
        raise UnreadableForm("no boundary")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    names, header = [], {"field": b"", "value": b"", "disposition": b""}

    def on_header_field(data, start, end):
        header["field"] += data[start:end]

    def on_header_value(data, start, end):
        header["value"] += data[start:end]

    def on_header_end():
        if header["field"].lower() == b"content-disposition":
            header["disposition"] = header["value"]
        header["field"] = header["value"] = b""

    def on_headers_finished():
        _, options = parse_options_header(header["disposition"])
        header["disposition"] = b""
        if b"filename" in options:
            raw = options[b"filename"]
            try:
                name = raw.decode(charset)
            except (UnicodeDecodeError, LookupError):
                name = raw.decode("latin-1")
            names.append(strip_invalid_filename_characters(Path(name).name))

    parser = MultipartParser(boundary, {"on_header_field": on_header_field, "on_header_value": on_header_value,
                                        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished})
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise UnreadableForm(str(exc)) from None
    return names


class RequestGuard:
    """ASGI middleware in front of Gradio; see the module's docstring."""

    def __init__(self, app, storage=None, max_body_bytes=MAX_BODY_BYTES, max_upload_bytes=MAX_UPLOAD_BYTES,
                 allowed_hosts=None):
        self.app, self.storage = app, storage
        self.max_body_bytes, self.max_upload_bytes = max_body_bytes, max_upload_bytes
        self.allowed_hosts = served_hosts() if allowed_hosts is None else frozenset(allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        if not host_allowed(host, self.allowed_hosts):
            log.info("refused a request for host %s", _cut(host))
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _reply(403, "This server does not answer to that host name. Open the playground by its "
                                     "own address (http://127.0.0.1:<port>/), or start it with --allowed-host NAME "
                                     "for a name of your own.")(send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if "/monitoring" in path:
            return await _reply(404, "Not found.")(send)
        if method not in CHANGING_METHODS:
            return await self.app(scope, receive, send)
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, headers.get("host")):
            log.info("refused a %s %s from another site (%s)", method, _cut(path), _cut(origin))
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
        try:
            names = multipart_filenames(body, content_type)
        except UnreadableForm:
            return 400, "An upload must be a multipart/form-data form with the file in it (as a browser or gradio_client sends)."
        wrong = [n for n in names if not n.lower().endswith(MIDI_SUFFIXES)]
        if wrong:
            return 415, f"Invalid file type: only .mid and .midi files are accepted, got '{wrong[0][:60]}'."
        if self.storage is not None and not self.storage.make_room(len(body)):
            return 507, "The server's storage for uploads and results is full: try again in a few minutes."
        return None


def _cut(text, limit=80):
    """``text`` for a log line, cut to ``limit`` characters (``OneLine`` escapes what it must)."""
    text = "" if text is None else str(text)
    return text[:limit] + ("..." if len(text) > limit else "")


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


def random_upload_folders():
    """Give every upload a folder of random name. Gradio names it by a hash of the file's content
    (with a seed fixed per installation), so one file has one address on every server of an
    installation and for every session: whoever has a file could find out whether someone uploaded
    it, and fetch it. Gradio has no setting for this, so its upload file's hash gets 32 random bytes
    more (checked by ``tests/test_serving.py``, which fails if a Gradio upgrade undoes it)."""
    from gradio import route_utils

    original = route_utils.GradioUploadFile.__init__
    if getattr(original, "random_folder", False):
        return

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.sha.update(secrets.token_bytes(32))

    init.random_folder = True
    route_utils.GradioUploadFile.__init__ = init


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
    """Whether the server could listen on ``port``: probed as the server binds (with ``SO_REUSEADDR``,
    as uvicorn does), so that a port whose last server stopped or was killed a moment ago, and whose
    connections linger in TIME_WAIT, counts as free, as it is."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        line = _CONTROL.sub(lambda m: repr(m.group())[1:-1], super().format(record))  # one line, no terminal codes
        return line if len(line) <= self.max_chars else line[: self.max_chars] + "..."


def one_line_log(level=logging.INFO):
    """Send the ``melody`` logger to stderr, one short line per record."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLine())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
