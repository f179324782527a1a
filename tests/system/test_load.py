"""Eight users at once through the HTTP API: no errors, and nobody gets another user's melody."""
import importlib.util
import sys
import threading
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_load", BENCH / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eight_simultaneous_users(app_url):
    bench = load_bench()
    results = []
    threads = [threading.Thread(target=bench.run_user, args=(app_url, n, 1, 64, results)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert [error for _, error in results if error] == []
