"""The running server (python app.py) under abuse: slow uploads, huge texts, other web sites, disk,
logs, signals, broken checkpoints, ports."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from app_process import ROOT, free_port, start_app, stop_app
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from midi_factory import midi_file_bytes, note_messages, pitches_in, slow_file

SHIPPED = ROOT / "checkpoints" / "rhythm.pt"


def storage_root(log_path, wait_s=30):
    """The server's folder, from its start-up line (printed just after the page starts answering)."""
    deadline = time.time() + wait_s
    while not (match := re.search(r"files in (\S+),", Path(log_path).read_text())) and time.time() < deadline:
        time.sleep(0.1)
    return Path(match.group(1))


def test_requests_reusing_a_slow_upload_do_not_hold_up_a_normal_generate(app_url, tmp_path):
    path = slow_file(tmp_path / "dense.mid")
    clients = [Client(app_url, verbose=False, headers={"X-Forwarded-For": f"10.2.0.{n}"}) for n in range(6)]
    jobs = [c.submit(midi_file=handle_file(str(path)), length=4, api_name="/generate") for c in clients]
    time.sleep(1.5)  # the six are in, waiting for the one read of that content
    started = time.perf_counter()
    Client(app_url, verbose=False).predict(seed_notes="C4 D4 E4", length=32, rng_seed=1, api_name="/generate")
    waited = time.perf_counter() - started
    outcomes = []
    for job in jobs:
        try:
            outcomes.append(len(pitches_in(job.result(timeout=120)[2])))
        except AppError as exc:
            outcomes.append(str(exc))
    assert waited < 4.0, waited  # before: both generation slots spent reading the file, 10+ s each
    assert len(set(map(str, outcomes))) == 1  # one read, one answer for all six


@pytest.mark.slow
def test_thirty_slow_uploads_with_fresh_session_ids_do_not_hold_up_a_typed_request(app_url, tmp_path):
    """Each attacker sends a distinct dense file under a session id of its own (a fresh Client), half
    of them from one address and half as if from 15 others (behind a proxy that says who they are).
    Before: 24 such sessions held a 16-note typed request for 25 s, 30 for 165 s."""
    dense = bytearray(slow_file(tmp_path / "dense.mid").read_bytes())
    files = []
    for n in range(30):
        dense[24] = 41 + n  # the first note's pitch: a content not read before
        files.append(tmp_path / f"dense-{n}.mid")
        files[-1].write_bytes(bytes(dense))
    jobs = []
    for n, path in enumerate(files):
        headers = {"X-Forwarded-For": f"10.1.0.{n}"} if n % 2 else None
        client = Client(app_url, verbose=False, headers=headers)
        jobs.append(client.submit(midi_file=handle_file(str(path)), length=4, api_name="/generate"))
    time.sleep(2.0)  # all thirty are in: reading, waiting for a read, or refused
    started = time.perf_counter()
    Client(app_url, verbose=False).predict(seed_notes="C4 D4 E4 F4 G4 A4 G4 E4", length=16, rng_seed=1,
                                           api_name="/generate")
    waited = time.perf_counter() - started
    messages = []
    for job in jobs:
        try:
            job.result(timeout=300)
            messages.append("generated")
        except AppError as exc:
            messages.append(str(exc))
    assert waited < 5.0, waited
    assert all(m and m != "None" for m in messages), messages  # every request got an answer it can show
    assert sum("still being read" in m or "busy reading" in m for m in messages) >= 20, messages


def test_a_huge_seed_text_is_refused_at_once_with_a_message(app_url):
    client = Client(app_url, verbose=False)
    for size, words in ((50_000, "too long"), (10_000_000, "413")):
        started = time.perf_counter()
        with pytest.raises(Exception, match=words):
            client.predict(seed_notes="C4 " * (size // 3), api_name="/generate")
        assert time.perf_counter() - started < 1.0, size


def test_other_web_sites_cannot_upload_and_only_midi_is_stored(app_url):
    evil = httpx.post(app_url + "gradio_api/upload", files={"files": ("x.mid", b"MThd", "audio/midi")},
                      headers={"Origin": "http://evil.example"}, timeout=30)
    assert evil.status_code == 403
    text = httpx.post(app_url + "gradio_api/upload", files={"files": ("x.html", b"<script>", "text/html")}, timeout=30)
    assert text.status_code == 415
    assert httpx.get(app_url + "monitoring", timeout=30).status_code == 404
    assert httpx.get(app_url + "gradio_api/monitoring", timeout=30).status_code == 404


def test_a_host_name_the_server_does_not_serve_is_refused_on_every_route(app_url, own_app):
    """DNS rebinding: evil.example made to resolve to 127.0.0.1 sends its own name as the Host, and its
    own origin; before, it could upload and generate."""
    port = app_url.rsplit(":", 1)[1].strip("/")
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    for path in ("", "config", "gradio_api/info", "gradio_api/file=README.md"):
        assert httpx.get(app_url + path, headers=evil, timeout=30).status_code == 403, path
    assert httpx.post(app_url + "gradio_api/upload", files={"files": ("x.mid", b"MThd")}, headers=evil,
                      timeout=30).status_code == 403
    join = httpx.post(app_url + "gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"},
                      headers=evil, timeout=30)
    assert join.status_code == 403 and "does not answer to that host name" in join.json()["error"]
    assert httpx.get(app_url + "config", headers={"Host": f"localhost:{port}"}, timeout=30).status_code == 200
    own_port = free_port()
    _, url, _ = own_app(args=["--port", str(own_port), "--allowed-host", "music.example"])
    assert httpx.get(url + "config", headers={"Host": f"music.example:{own_port}"}, timeout=30).status_code == 200
    assert httpx.get(url + "config", headers={"Host": f"evil.example:{own_port}"}, timeout=30).status_code == 403


def test_an_upload_gets_a_random_address_not_one_its_content_gives(app_url):
    data = midi_file_bytes([note_messages([60, 62, 64])])
    paths = [httpx.post(app_url + "gradio_api/upload", files={"files": ("same.mid", data, "audio/midi")},
                        timeout=30).json()[0] for _ in range(2)]
    assert paths[0] != paths[1] and all(p.endswith("same.mid") for p in paths)
    import hashlib

    from gradio import processing_utils

    by_content = hashlib.sha256(processing_utils.hash_seed + data).hexdigest()
    assert all(by_content not in p and hashlib.sha256(data).hexdigest() not in p for p in paths)


def test_user_errors_are_one_short_log_line_each(app_server):
    url, log_path = app_server
    before = len(log_path.read_text().splitlines())
    client = Client(url, verbose=False)
    for notes in ("C4 " + "Q" * 500_000, "C4 H4"):
        with pytest.raises(AppError):
            client.predict(seed_notes=notes, api_name="/generate")
    time.sleep(0.5)
    new = log_path.read_text().splitlines()[before:]
    assert "Traceback" not in "\n".join(new)
    errors = [line for line in new if "user error" in line]
    assert len(errors) == 2 and all(len(line) < 400 for line in errors), new


def test_each_result_is_written_once_in_the_servers_folder(app_server):
    url, log_path = app_server
    audio, _, _, _ = Client(url, verbose=False).predict(seed_notes="C4 E4 G4", length=8, rng_seed=99,
                                                        api_name="/generate")
    root = storage_root(log_path)
    copies = [p for p in root.rglob("*.mp3") if p.name == Path(audio).name]
    assert len(copies) == 1 and copies[0].is_relative_to(root / "results")


@pytest.fixture
def own_app(tmp_path):
    """Start a separate app with its own folders and settings; stops it at the end."""
    started = []

    def start(checkpoints=None, env=None, args=None):
        env = {"MELODY_TMP": str(tmp_path / "tmp"), **(env or {})}
        if checkpoints:
            env["MELODY_CHECKPOINT_DIR"] = str(checkpoints)
        log = tmp_path / f"app-{len(started)}.log"
        process, url, _ = start_app(log, env=env, args=args)
        started.append(process)
        return process, url, log

    yield start
    for process in started:
        if process.poll() is None:
            stop_app(process)


def test_stale_files_go_at_start_and_own_files_at_sigterm(own_app, tmp_path):
    stale = tmp_path / "tmp" / "melody-playground" / "999999999-old"
    (stale / "results").mkdir(parents=True)
    (stale / "results" / "big.mp3").write_bytes(b"x" * 1000)
    process, url, log = own_app()
    assert not stale.exists()
    Client(url, verbose=False).predict(seed_notes="C4 D4", length=8, rng_seed=1, api_name="/generate")
    root = storage_root(log)
    assert any(root.rglob("*.mp3"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not root.exists()
    assert "Traceback" not in log.read_text()


def test_uploads_fill_no_more_than_the_storage_quota(own_app, tmp_path):
    _, url, log = own_app(args=["--port", str(free_port()), "--storage-mb", "1"])
    root = storage_root(log)

    def used():  # the grid's note samples, made once at start, are not uploads or results
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "static" not in p.relative_to(root).parts)

    statuses = []
    for n in range(8):
        response = httpx.post(url + "gradio_api/upload", timeout=30,
                              files={"files": (f"f{n}.mid", bytes([n]) * 300_000, "audio/midi")})
        statuses.append(response.status_code)
        assert used() <= 2**20 + 300_000
        if n == 5:  # the first uploads are older than the grace for being read now: room can be made of them
            for folder in root.iterdir():
                if folder.name not in ("results", "static"):
                    os.utime(folder, (time.time() - 600, time.time() - 600))
    # uploads just made are about to be read, so they stay: the fourth is refused, until the old ones may go
    assert statuses[:3] == [200] * 3 and statuses[3] == 507 and statuses[6] == 200, statuses
    too_big = httpx.post(url + "gradio_api/upload", timeout=30,
                         files={"files": ("huge.mid", b"x" * 1_200_000, "audio/midi")})
    assert too_big.status_code == 507


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 MB file system (tmpfs; mounting needs root, which CI has: skipped elsewhere)."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()[:80]}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_said_plainly_leaves_nothing_half_written_and_recovers(own_app, small_disk):
    _, url, log = own_app(env={"MELODY_TMP": str(small_disk)})
    client = Client(url, verbose=False)
    client.predict(seed_notes="C4 E4 G4", length=8, rng_seed=1, api_name="/generate")  # the workers are up
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * (free - 20_000))  # 20 kB left: not enough for a result
    with pytest.raises(AppError, match="The server's disk is full"):
        client.predict(seed_notes="C4 D4 E4 F4 G4", length=64, rng_seed=2, api_name="/generate")
    results = storage_root(log) / "results"
    assert not [f for f in results.rglob("*") if f.is_file() and f.stat().st_size == 0]
    assert not [f for f in results.iterdir() if f.name.startswith("result-") and not any(f.iterdir())]
    filler.unlink()  # space again: the next request is served as if nothing happened
    audio, _, midi, _ = client.predict(seed_notes="C4 D4 E4 F4 G4", length=16, rng_seed=3, api_name="/generate")
    assert Path(audio).stat().st_size > 1000 and len(pitches_in(midi)) == 5 + 16


@pytest.mark.slow
def test_under_a_tiny_quota_every_request_gets_its_files_or_a_message(own_app):
    """Before, with --storage-mb 1 and 4 clients, 20 of 24 requests ended in {"error": null} and 3 of
    the 4 others could not be fetched: eviction deleted results still being written or fetched."""
    _, url, _ = own_app(args=["--port", str(free_port()), "--storage-mb", "1"])
    clients = [Client(url, verbose=False) for _ in range(4)]
    jobs = [c.submit(seed_notes="C4 D4 E4 F4 G4 A4 B4 C5", length=64, rng_seed=n, api_name="/generate")
            for n in range(6) for c in clients]
    fetched, refused = 0, []
    for job in jobs:
        try:
            audio, roll, midi, summary = job.result(timeout=300)
        except AppError as exc:
            refused.append(str(exc))
            continue
        assert all(Path(p).stat().st_size > 0 for p in (audio, roll, midi)) and "variation" in summary
        fetched += 1
    assert fetched >= 2 and fetched + len(refused) == 24
    assert all("storage is full" in message for message in refused), refused


def test_a_damaged_default_checkpoint_is_passed_over_with_a_warning(own_app, tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / "mine.pt")
    (folder / "rhythm.pt").write_bytes(SHIPPED.read_bytes()[:100_000])  # the shipped default, damaged
    _, url, _ = own_app(checkpoints=folder)
    summary = Client(url, verbose=False).predict(seed_notes="C4 D4", length=8, api_name="/generate")[3]
    assert "model mine.pt" in summary
    config = httpx.get(url + "config", timeout=30).text
    assert "rhythm.pt was passed over" in config and "damaged" in config


@pytest.mark.slow
def test_the_port_comes_from_gradio_server_port_and_a_busy_port_is_one_line(own_app, tmp_path):
    port = free_port()
    _, url, _ = own_app(env={"GRADIO_SERVER_PORT": str(port)}, args=[])
    assert url == f"http://127.0.0.1:{port}/"
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(port)], capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                         "MELODY_TMP": str(tmp_path / "tmp")})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_after_kill_9_the_server_starts_again_on_the_same_port_at_once(own_app):
    port = free_port()
    process, url, _ = own_app(args=["--port", str(port)])
    with httpx.Client() as browser:  # a connection still open when the server dies: the kernel closes it from
        assert browser.get(url, timeout=30).status_code == 200  # the server's side, leaving it in TIME_WAIT
        process.kill()
        process.wait()
    _, again, _ = own_app(args=["--port", str(port)])  # before: "Port ... is in use" for about 60 s
    assert again == url and httpx.get(again, timeout=30).status_code == 200


def generation_workers(pid):
    """The pids of a server's generation workers (``python -m melody.workers``), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"melody.serve.workers" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


@pytest.mark.slow
def test_a_crash_while_generating_costs_one_request_not_the_server(own_app):
    """A fault in native code (here: SIGSEGV sent to the worker) ends the worker, not the server."""
    process, url, log = own_app()
    client = Client(url, verbose=False)
    client.predict(seed_notes="C4 E4 G4", length=4, rng_seed=1, api_name="/generate")  # the workers are up
    job = client.submit(seed_notes="C4 D4 E4 F4 G4", length=512, pins="511:C5", rng_seed=5, api_name="/generate")
    time.sleep(2.0)
    for pid in generation_workers(process.pid):
        os.kill(pid, signal.SIGSEGV)
    with pytest.raises(AppError, match="The generator stopped unexpectedly"):
        job.result(timeout=120)
    assert process.poll() is None  # the server is still there
    again = Client(url, verbose=False).predict(seed_notes="C4 E4 G4", length=8, rng_seed=2, api_name="/generate")
    assert len(pitches_in(again[2])) == 3 + 8
    assert "killed by SIGSEGV; started again" in log.read_text()


@pytest.mark.slow
def test_gradio_reload_mode_serves_the_modules_demo(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GRADIO_SERVER_PORT": str(port),
           "MELODY_TMP": str(tmp_path / "tmp"), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([str(Path(sys.executable).parent / "gradio"), "app.py"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("gradio app.py did not serve the page")
    finally:
        import os

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def test_sessions_idle_too_long_are_dropped(tmp_path):
    from melody.web import launch as app

    playground, demo = app.playground_and_page()
    args = app.parse_args(["--port", str(free_port())])
    old_idle = app.SESSION_IDLE_SECONDS
    app.SESSION_IDLE_SECONDS = 6
    try:
        url = app.start(demo, playground, args, expire_every_seconds=0.2)
        holder = demo.server_app.state_holder
        for _ in range(5):
            with pytest.raises(AppError):
                Client(url, verbose=False).predict(seed_notes="H9", api_name="/generate")
        assert len(holder.session_data) >= 5
        deadline = time.time() + 10
        while holder.session_data and time.time() < deadline:
            time.sleep(0.2)
        assert not holder.session_data
    finally:
        app.SESSION_IDLE_SECONDS = old_idle
        demo.close(verbose=False)


def test_the_grid_names_the_seed_limit_not_an_empty_grid():
    from melody import SeedError
    from melody.serve import playground as pg
    from melody.web import events as app
    from melody.web.launch import playground_and_page

    state = pg.new_session(pg.seed_from_notes("C4"))
    with pytest.raises(SeedError, match="at most 1024 notes"):
        app.grid_changed(playground_and_page()[0], [60] * 1025, state)
    assert "grid is empty" in app.grid_changed(playground_and_page()[0], [None], state)[2]
