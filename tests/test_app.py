"""app.py's own choices: safe defaults, and a clear message when it cannot start."""
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parent.parent


def test_serves_this_machine_only_by_default():
    args = app.parse_args([])
    assert args.host == "127.0.0.1" and args.port == 7860 and args.share is False
    assert app.parse_args(["--host", "0.0.0.0", "--port", "8000", "--share"]).share is True


def test_no_checkpoint_is_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "MELODY_CHECKPOINT_DIR": str(tmp_path),
                                 "GRADIO_ANALYTICS_ENABLED": "False", "HOME": str(tmp_path)}, timeout=120)
    assert result.returncode != 0
    assert "No checkpoint found" in result.stderr and "train.py" in result.stderr
    assert "Traceback" not in result.stderr
