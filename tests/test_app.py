"""app.py's own choices: safe defaults, and a clear message when it cannot start."""
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parent.parent


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
