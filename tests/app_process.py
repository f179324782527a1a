"""The real playground (`python app.py`) on a free loopback port: for the API, browser and load
tests and for the benchmarks."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(log_path, timeout_s=120, env=None, args=None):
    """Start the app with its output in ``log_path`` and wait until its page answers.

    ``env`` adds environment variables; ``args`` replaces the default ``--port <a free port>``.
    Returns ``(process, url, seconds until the page answered)``; raises ``RuntimeError`` with the
    app's output when it exits or does not answer within ``timeout_s``.
    """
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(env or {}))
    env.pop("GRADIO_TEMP_DIR", None)  # set in this process if it imported the page: each app makes its own
    if args is None:
        args = ["--port", str(port)]
    else:
        port = int(env.get("GRADIO_SERVER_PORT") or args[args.index("--port") + 1])
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited early:\n{Path(log_path).read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process, url, time.perf_counter() - started
        except OSError:
            pass
        if time.perf_counter() - started > timeout_s:
            stop_app(process)
            raise RuntimeError(f"app.py did not answer within {timeout_s} s:\n{Path(log_path).read_text()}")
        time.sleep(0.05)


def stop_app(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
