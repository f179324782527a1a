"""The running server (python app.py) under abuse: slow uploads, huge texts, other web sites, disk,
logs, signals, broken checkpoints, ports."""
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
from midi_factory import midi_file_bytes, note_messages, pitches_in

SHIPPED = ROOT / "checkpoints" / "rhythm.pt"


def slow_file(path, offset=0):
    """A real upload that takes seconds to read: 200,000 short notes (1.6 MB)."""
    path.write_bytes(midi_file_bytes([note_messages([40 + (i + offset) % 40 for i in range(200_000)], ticks=30)]))
    return path


def storage_root(log_path, wait_s=30):
    """The server's folder, from its start-up line (printed just after the page starts answering)."""
    deadline = time.time() + wait_s
    while not (match := re.search(r"files in (\S+),", Path(log_path).read_text())) and time.time() < deadline:
        time.sleep(0.1)
    return Path(match.group(1))


def test_requests_reusing_a_slow_upload_do_not_hold_up_a_normal_generate(app_url, tmp_path):
    path = slow_file(tmp_path / "dense.mid")
    clients = [Client(app_url, verbose=False) for _ in range(6)]
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


def test_one_session_cannot_start_many_slow_reads(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    files = [slow_file(tmp_path / f"dense-{n}.mid", offset=n) for n in range(1, 4)]  # contents not read before
    jobs = [client.submit(midi_file=handle_file(str(f)), length=4, api_name="/generate") for f in files]
    messages = []
    for job in jobs:
        try:
            job.result(timeout=180)
        except AppError as exc:
            messages.append(str(exc))
    assert any("still being read" in m for m in messages), messages


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
        env = dict(env or {}, MELODY_TMP=str(tmp_path / "tmp"))
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
    for n in range(8):
        response = httpx.post(url + "gradio_api/upload", timeout=30,
                              files={"files": (f"f{n}.mid", bytes([n]) * 300_000, "audio/midi")})
        assert response.status_code == 200
        # the grid's note samples, made once at start, are not uploads or results
        used = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "static" not in p.relative_to(root).parts)
        assert used <= 2**20 + 300_000
    too_big = httpx.post(url + "gradio_api/upload", timeout=30,
                         files={"files": ("huge.mid", b"x" * 1_200_000, "audio/midi")})
    assert too_big.status_code == 507


def test_a_damaged_newest_checkpoint_is_passed_over_with_a_warning(own_app, tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / "rhythm.pt")
    (folder / "zz-newest.pt").write_bytes(SHIPPED.read_bytes()[:100_000])
    _, url, _ = own_app(checkpoints=folder)
    summary = Client(url, verbose=False).predict(seed_notes="C4 D4", length=8, api_name="/generate")[3]
    assert "model rhythm.pt" in summary
    config = httpx.get(url + "config", timeout=30).text
    assert "zz-newest.pt was passed over" in config and "damaged" in config


def test_the_port_comes_from_gradio_server_port_and_a_busy_port_is_one_line(own_app, tmp_path):
    port = free_port()
    _, url, _ = own_app(env={"GRADIO_SERVER_PORT": str(port)}, args=[])
    assert url == f"http://127.0.0.1:{port}/"
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(port)], capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                         "MELODY_TMP": str(tmp_path / "tmp")})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr and len(result.stderr.strip().splitlines()) == 1


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
    from melody.web import page as app

    args = app.parse_args(["--port", str(free_port())])
    old_idle = app.SESSION_IDLE_SECONDS
    app.SESSION_IDLE_SECONDS = 6
    try:
        url = app.start(app.demo, app.PLAYGROUND, args, expire_every_seconds=0.2)
        holder = app.demo.server_app.state_holder
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
        app.demo.close(verbose=False)


def test_the_grid_names_the_seed_limit_not_an_empty_grid():
    from melody import SeedError
    from melody import playground as pg
    from melody.web import page as app

    state = pg.new_session(pg.seed_from_notes("C4"))
    with pytest.raises(SeedError, match="at most 1024 notes"):
        app.grid_changed(app.PLAYGROUND, [60] * 1025, state)
    assert "grid is empty" in app.grid_changed(app.PLAYGROUND, [None], state)[2]
