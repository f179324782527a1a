"""app.py's own choices: safe defaults, and a clear message when it cannot start."""
import subprocess
import sys
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[2]


def test_serves_this_machine_only_by_default(monkeypatch):
    for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "MELODY_HOST", "MELODY_PORT"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert args.host == "127.0.0.1" and args.port is None and args.share is False  # None: 7860 or the next free
    assert app.parse_args(["--host", "0.0.0.0", "--port", "8000", "--share"]).share is True


def test_gradio_and_melody_environment_variables_choose_the_address(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8123")
    args = app.parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 8123)
    assert app.parse_args(["--port", "9000"]).port == 9000  # the flag wins
    monkeypatch.delenv("GRADIO_SERVER_PORT")
    monkeypatch.setenv("MELODY_PORT", "8124")
    assert app.parse_args([]).port == 8124


def test_the_module_has_a_demo_for_gradio_reload_mode():
    import gradio as gr

    assert isinstance(app.demo, gr.Blocks)


def test_no_checkpoint_is_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "MELODY_CHECKPOINT_DIR": str(tmp_path),
                                 "GRADIO_ANALYTICS_ENABLED": "False", "HOME": str(tmp_path)}, timeout=120)
    assert result.returncode != 0
    assert "No checkpoint found" in result.stderr and "train.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bug_in_a_handler_is_said_as_a_server_error_and_logged_in_one_line(caplog):
    from melody.web.answers import SERVER_ERROR, catching

    def broken(notes):
        return [notes][3]  # an IndexError: a bug, not the user's mistake

    shown = catching(broken, lambda exc: f"shown: {exc}")("C4")
    assert shown == f"shown: {SERVER_ERROR}"
    lines = [r.getMessage() for r in caplog.records if "server error" in r.getMessage()]
    assert len(lines) == 1 and "IndexError" in lines[0] and "test_app.py" in lines[0]


def test_log_lines_are_one_line_with_control_characters_escaped():
    import logging

    from melody.serve.server import OneLine

    record = logging.LogRecord("melody", logging.INFO, __file__, 1, "user error: %s", ("C4\n\x1b[31mH4",), None)
    line = OneLine().format(record)
    assert "\n" not in line and "\x1b" not in line and "C4\\n\\x1b[31mH4" in line


@pytest.mark.slow
def test_the_page_starts_with_the_shipped_model_and_lists_the_others(tmp_path):
    """A checkpoint trained later is listed, not chosen (issue 21, 11h); a MELODY_CHECKPOINT that names
    no checkpoint is one line."""
    import json
    import os
    import shutil
    import urllib.request

    from app_process import start_app, stop_app
    from small_models import small_rhythm

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(ROOT / "checkpoints" / "rhythm.pt", folder)
    os.utime(folder / "rhythm.pt", (1, 1_000_000))  # as a clone wrote it, long ago
    small_rhythm(folder / "mine.pt")  # trained just now
    env = {"MELODY_CHECKPOINT_DIR": str(folder), "MELODY_TMP": str(tmp_path / "files")}
    process, url, _ = start_app(tmp_path / "app.log", env=env)
    try:
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            config = json.load(response)
    finally:
        stop_app(process)
    started = next(line for line in (tmp_path / "app.log").read_text().splitlines() if "Melody playground:" in line)
    assert "(model rhythm.pt;" in started
    dropdown = next(c["props"] for c in config["components"] if c.get("props", {}).get("elem_id") == "checkpoint")
    assert dropdown["value"] == "rhythm.pt" and {v for _, v in dropdown["choices"]} == {"rhythm.pt", "mine.pt"}
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0"], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, **env, MELODY_CHECKPOINT="nowhere.pt",
                                                  GRADIO_ANALYTICS_ENABLED="False"))
    assert result.returncode != 0 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: MELODY_CHECKPOINT is 'nowhere.pt', which is not one of the checkpoints")


def test_a_busy_port_asked_for_is_one_error_and_a_busy_default_moves_on(monkeypatch, capsys):
    import socket

    from melody.errors import MelodyError
    from melody.web import launch

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MelodyError, match=f"Port {port} on 127.0.0.1 is in use"):
            launch.pick_port("127.0.0.1", port)
        monkeypatch.setattr(launch, "DEFAULT_PORT", port)
        chosen = launch.pick_port("127.0.0.1", None)
    assert port < chosen <= port + 20
    assert f"Port {port} is in use: serving on port {chosen} instead." in capsys.readouterr().out
