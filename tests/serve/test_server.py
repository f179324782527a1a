"""The serving layer's parts on their own: request guard, storage, upload reader, sessions."""
import errno
import os
import threading
import time

import pytest
from midi_factory import midi_bytes
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from melody import MidiError, SeedError
from melody.serve.server import (
    RequestGuard,
    expire_sessions,
    free_port,
    host_allowed,
    multipart_filenames,
    port_is_free,
    same_origin,
    served_hosts,
)
from melody.serve.storage import Storage, StorageFull, filled, remove_stale
from melody.serve.uploads import UploadReader


@pytest.mark.parametrize("origin, host, same", [
    ("http://127.0.0.1:7860", "127.0.0.1:7860", True),
    ("http://localhost:7860", "127.0.0.1:7860", True),
    ("https://me.hf.space", "me.hf.space", True),
    ("http://evil.example", "127.0.0.1:7860", False),
    ("http://127.0.0.1:8000", "127.0.0.1:7860", False),
    ("null", "127.0.0.1:7860", False),
    ("http://127.0.0.1.evil.example:7860", "127.0.0.1:7860", False),
])
def test_same_origin(origin, host, same):
    assert same_origin(origin, host) is same


@pytest.mark.parametrize("host, served", [
    ("127.0.0.1:7860", True), ("localhost:7860", True), ("LOCALHOST.", True), ("[::1]:7860", True),
    ("192.168.1.20:7860", True), ("[fe80::1]", True),  # an address: a page there is that address's own
    ("music.example:7860", True), ("a.studio.example", True), ("studio.example", False),
    ("evil.example:7860", False), ("127.0.0.1.evil.example", False), ("localhost.evil.example", False),
    ("", False), (None, False), ("bad host:x", False),
])
def test_only_the_names_the_server_serves_are_answered(host, served):
    allowed = served_hosts("0.0.0.0", ["music.example", "*.studio.example"])
    assert host_allowed(host, allowed) is served


def test_the_listening_address_is_served_unless_it_is_every_address():
    assert "box.lan" in served_hosts("box.lan") and "0.0.0.0" not in served_hosts("0.0.0.0")
    assert "::" not in served_hosts("::") and host_allowed("x.gradio.live", served_hosts(share=True))


def test_every_route_refuses_a_host_it_does_not_serve(guarded):
    client, _ = guarded
    for method, path in (("GET", "/page"), ("POST", "/gradio_api/queue/join"), ("GET", "/monitoring")):
        refused = client.request(method, path, headers={"Host": "evil.example", "Origin": "http://evil.example"})
        assert refused.status_code == 403 and "does not answer to that host name" in refused.json()["error"]
    upload = client.post("/gradio_api/upload", files={"files": ("a.mid", b"MThd")},
                         headers={"Host": "evil.example:7860", "Origin": "http://evil.example:7860"})
    assert upload.status_code == 403


def test_multipart_file_names_are_read_from_the_part_headers():
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.mid"\r\n\r\nfilename="b.txt"'
            b'\r\n--XyZ\r\nContent-Disposition: form-data; name="files"; filename="c.exe"\r\n\r\ndata\r\n--XyZ--\r\n')
    assert multipart_filenames(body, "multipart/form-data; boundary=XyZ") == ["a.mid", "c.exe"]


def html_form(boundary=b"XyZ", disposition=b'form-data; name="files"; filename="page.html"'):
    return (b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: text/html\r\n\r\n"
            b"<script>alert(1)</script>\r\n--" + boundary + b"--\r\n")


ODD_FORMS = [  # (content type, body): spellings the upload check once read differently from Gradio
    ("multipart/form-data; BOUNDARY=XyZ", html_form()),
    ('multipart/form-data; boundary="XyZ"', html_form()),
    ("multipart/form-data; boundary=XyZ ; charset=utf-8", html_form()),
    ("multipart/form-data;boundary=XyZ;x=1", html_form()),
    ("Multipart/Form-Data; boundary=XyZ", html_form()),
    ("multipart/form-data; boundary=XyZ", html_form(disposition=b'form-data; name="files"; FILENAME="page.html"')),
    ("multipart/form-data; boundary=XyZ", html_form(disposition=b"form-data; name=files; filename=page.html")),
    ("multipart/form-data; boundary=XyZ", html_form(disposition=b'form-data; name="files"; filename="x.mid/page.html"')),
]


@pytest.mark.parametrize("content_type, body", ODD_FORMS)
def test_no_spelling_of_a_form_gets_a_non_midi_file_past_the_upload_check(guarded, content_type, body):
    client, _ = guarded
    response = client.post("/gradio_api/upload", content=body, headers={"content-type": content_type})
    assert response.status_code in (400, 415), (content_type, response.status_code)


def test_a_form_that_cannot_be_parsed_is_refused():
    from melody.serve.server import UnreadableForm

    for content_type in ("multipart/form-data", "text/plain"):
        with pytest.raises(UnreadableForm):
            multipart_filenames(html_form(), content_type)


@pytest.fixture
def guarded(tmp_path):
    async def ok(request):
        return PlainTextResponse(f"got {len(await request.body())} bytes")

    storage = Storage(base=tmp_path, max_bytes=50_000)
    routes = [Route("/gradio_api/upload", ok, methods=["POST"]), Route("/gradio_api/queue/join", ok, methods=["POST"]),
              Route("/monitoring", ok), Route("/page", ok)]
    app = Starlette(routes=routes, middleware=[Middleware(RequestGuard, storage=storage, max_body_bytes=1000,
                                                          allowed_hosts=served_hosts(extra=["testserver"]))])
    return TestClient(app), storage


def test_cross_site_requests_that_change_things_are_refused(guarded):
    client, _ = guarded
    refused = client.post("/gradio_api/upload", files={"files": ("a.mid", b"MThd")},
                          headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and "other web sites" in refused.json()["error"]
    assert client.post("/gradio_api/upload", files={"files": ("a.mid", b"MThd")},
                       headers={"Origin": "http://testserver"}).status_code == 200
    assert client.get("/page", headers={"Origin": "http://evil.example"}).status_code == 200  # reading is fine


def test_uploads_must_be_midi_and_fit_the_storage(guarded):
    client, storage = guarded
    wrong = client.post("/gradio_api/upload", files={"files": ("notes.txt", b"C4 D4")})
    assert wrong.status_code == 415 and "Invalid file type" in wrong.json()["error"]
    too_big = client.post("/gradio_api/upload", files={"files": ("big.mid", b"M" * 60_000)})
    assert too_big.status_code == 507 and "full" in too_big.json()["error"]
    assert client.post("/gradio_api/upload", files={"files": ("ok.MIDI", b"M" * 100)}).status_code == 200


def test_large_bodies_and_monitoring_are_refused(guarded):
    client, _ = guarded
    assert client.post("/gradio_api/queue/join", content=b"x" * 999).text == "got 999 bytes"
    large = client.post("/gradio_api/queue/join", content=b"x" * 1001)
    assert large.status_code == 413 and "at most 1,000 bytes" in large.json()["error"]
    assert client.get("/monitoring").status_code == 404


def test_storage_keeps_under_its_quota_by_deleting_the_oldest(tmp_path):
    storage = Storage(base=tmp_path, max_bytes=10_000)
    folders = []
    for n in range(5):
        folder = storage.new_folder("result-", needed_bytes=0)
        (folder / "audio.mp3").write_bytes(b"x" * 3000)
        os.utime(folder, (time.time() - 1000 + n, time.time() - 1000 + n))
        folders.append(folder)
    assert storage.make_room(3000)
    assert storage.used_bytes() <= 7000
    assert not folders[0].exists() and folders[-1].exists()
    assert not storage.make_room(20_000)  # more than the quota: refused
    storage.close()
    assert not storage.root.exists()


def test_a_write_that_fails_leaves_no_folder_and_a_full_disk_is_said_as_such(tmp_path):
    storage = Storage(base=tmp_path, max_bytes=10_000)
    folder = storage.new_folder("result-", needed_bytes=0)
    with pytest.raises(StorageFull, match="disk is full"), filled(folder):
        (folder / "audio.mp3").write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not folder.exists()  # no half-written result is left to be fetched
    other = storage.new_folder("result-", needed_bytes=0)
    with pytest.raises(ValueError, match="a bug"), filled(other):  # any other failure is itself
        raise ValueError("a bug")
    assert not other.exists()
    storage.close()


def test_after_the_disk_ran_out_every_result_not_in_use_goes(tmp_path):
    storage = Storage(base=tmp_path, max_bytes=10_000_000)
    folders = [storage.new_folder("result-", needed_bytes=0) for _ in range(3)]
    for folder in folders:
        (folder / "audio.mp3").write_bytes(b"x" * 3000)
        os.utime(folder, (time.time() - 600, time.time() - 600))  # fetched long ago, not yet expired
    with storage.holding(folders[0]):
        assert storage.free_disk()
        assert folders[0].exists() and not folders[1].exists() and not folders[2].exists()
        assert not storage.free_disk()  # nothing more to free: the one left is in use
    storage.close()


def test_results_being_made_or_just_made_are_never_deleted_to_make_room(tmp_path):
    storage = Storage(base=tmp_path, max_bytes=10_000)
    old, writing, fresh = (storage.new_folder("result-", needed_bytes=0) for _ in range(3))
    for folder in (old, writing, fresh):
        (folder / "audio.mp3").write_bytes(b"x" * 3000)
    for folder in (old, writing):
        os.utime(folder, (time.time() - 1000, time.time() - 1000))
    with storage.holding(writing):
        assert not storage.make_room(9000)  # only the old one may go, and that is not enough
        assert not old.exists() and writing.exists() and fresh.exists()
        with pytest.raises(StorageFull, match="full .* of results still being made or fetched"):
            storage.new_folder("result-", needed_bytes=5000)
    assert writing.exists()  # finished just now: kept while it is fetched
    storage.make_room(0, max_age_seconds=-1)  # expired (an hour old): goes, in use or not only while held
    assert not writing.exists() and not fresh.exists()


def test_folders_of_servers_that_no_longer_run_are_removed(tmp_path):
    base = tmp_path / "melody-playground"
    dead = base / "999999999-abc"  # no such process
    mine = base / f"{os.getpid()}-abc"
    for folder in (dead, mine):
        (folder / "results").mkdir(parents=True)
    assert remove_stale(base) == 1
    assert not dead.exists() and mine.exists()
    storage = Storage(base=tmp_path)
    assert storage.root.parent == base and storage.root.is_dir()


def test_each_upload_content_is_read_once_while_other_requests_wait_for_it(tmp_path):
    calls, release = [], threading.Event()

    def slow_read(path, config):
        calls.append(path)
        release.wait(10)
        return f"melody of {len(calls)}"

    reader = UploadReader(workers=2, per_client=1, read=slow_read)
    for n in range(3):  # three copies of one content, as repeated uploads of one file are
        (tmp_path / f"{n}.mid").write_bytes(midi_bytes())
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(reader.melody(tmp_path / f"{n}.mid", f"s{n}")))
               for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and results == ["melody of 1"] * 3


def test_a_client_may_keep_only_so_many_requests_waiting_for_reads_and_errors_are_kept(tmp_path):
    release = threading.Event()

    def read(path, config):
        release.wait(10)
        raise MidiError(f"'{path.name}' is not a MIDI file")

    reader = UploadReader(workers=2, per_client=1, read=read)
    first, second = tmp_path / "a.mid", tmp_path / "b.mid"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    worker = threading.Thread(target=lambda: pytest.raises(MidiError, reader.melody, first, "s"))
    worker.start()
    time.sleep(0.2)
    with pytest.raises(SeedError, match="still being read"):
        reader.melody(second, "s")
    with pytest.raises(SeedError, match="still being read"):  # waiting for the same read counts too
        reader.melody(first, "s")
    release.set()
    worker.join(10)
    with pytest.raises(MidiError, match="not a MIDI file"):  # the kept error, no second read
        reader.melody(first, "another session")


def test_all_clients_together_keep_only_so_many_requests_waiting_for_reads(tmp_path):
    release = threading.Event()
    reader = UploadReader(workers=2, per_client=2, total=3, read=lambda path, config: release.wait(10) and path.name)
    files = []
    for n in range(5):
        files.append(tmp_path / f"{n}.mid")
        files[-1].write_bytes(bytes([n]))
    waiting = [threading.Thread(target=reader.melody, args=(files[n], f"10.0.0.{n}")) for n in range(3)]
    for thread in waiting:
        thread.start()
    time.sleep(0.2)
    started = time.perf_counter()
    with pytest.raises(SeedError, match="busy reading other people's files"):  # a fourth address, at once
        reader.melody(files[3], "10.0.0.3")
    assert time.perf_counter() - started < 0.5
    release.set()
    for thread in waiting:
        thread.join(10)
    assert reader.melody(files[4], "10.0.0.3") == "4.mid"  # room again once the reads are done
    assert reader.melody(files[0], "10.0.0.9") == "0.mid"  # content read already: no wait, no count


def test_a_vanished_upload_says_to_upload_again(tmp_path):
    with pytest.raises(MidiError, match="upload it again"):
        UploadReader().melody(tmp_path / "gone.mid")


class FakeHolder:
    """The two fields of Gradio's StateHolder that expire_sessions uses."""

    def __init__(self, ages):
        import datetime
        from collections import OrderedDict

        now = datetime.datetime.now()
        self.lock = threading.Lock()
        self.session_data = OrderedDict((f"s{n}", object()) for n in range(len(ages)))
        self.time_last_used = {f"s{n}": now - datetime.timedelta(seconds=a) for n, a in enumerate(ages)}


def test_idle_sessions_and_sessions_beyond_capacity_are_dropped():
    app = type("App", (), {})()
    app.state_holder = FakeHolder([5000, 10, 5, 1])
    assert expire_sessions(app, idle_seconds=60, capacity=2) == 2
    assert list(app.state_holder.session_data) == ["s2", "s3"]


def test_ports():
    port = free_port("127.0.0.1", 20000)
    assert port is not None and port_is_free("127.0.0.1", port)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not port_is_free("127.0.0.1", port)
        assert free_port("127.0.0.1", port) != port
