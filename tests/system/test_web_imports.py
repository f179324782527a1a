"""Importing the page's modules makes nothing: no storage folder, no playground, no page, no exit or
signal handler (melody.web.launch makes them when it is asked to)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())  # wherever tests/ puts it

PROBE = """
import atexit, json, os, signal, sys
registered = []
register = atexit.register
atexit.register = lambda fn, *a, **k: registered.append(getattr(fn, "__module__", None) or "") or register(fn, *a, **k)
handlers = lambda: [repr(signal.getsignal(s)) for s in (signal.SIGTERM, signal.SIGINT)]
before = handlers()
import melody.web.page, melody.web.events, melody.web.launch
print(json.dumps({"atexit": [m for m in registered if m.startswith("melody")], "signals": [before, handlers()],
                  "temp_dir": os.environ.get("GRADIO_TEMP_DIR")}))
"""


def test_importing_the_page_makes_no_folder_and_registers_no_handler(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_TEMP_DIR", "MELODY_TMP")}
    env.update(TMPDIR=str(temp), GRADIO_ANALYTICS_ENABLED="False", HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["atexit"] == []  # no exit handler of melody's (the storage's deletes its folder)
    assert found["signals"][0] == found["signals"][1]
    assert found["temp_dir"] is None  # GRADIO_TEMP_DIR is set when the storage is made, not before
    assert list(temp.iterdir()) == []  # no storage folder (melody-playground/...)
