"""The server under abuse, in figures: how long a typed request waits behind many slow uploads, how
soon a killed server serves again on its port, and what one result costs on disk.

    .venv/bin/python bench/resilience.py [--attackers 30] [--runs 3]

Starts `python app.py` on free ports (and stops it). ``--attackers`` clients each upload a distinct
dense file (seconds to read) under a fresh session id, half from one address and half as if from
others (X-Forwarded-For, as a reverse proxy on this machine would say); meanwhile a 16-note request
with typed notes is timed. Then the server is killed (SIGKILL) while a connection is open, started
again on the same port, and timed until its page answers. Prints JSON.
"""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import machine

from app_process import free_port, start_app, stop_app  # isort: skip  (tests/, put on the path by common)
from midi_factory import slow_file


def victim_wait(url, attackers, folder):
    """Seconds a typed 16-note request takes while ``attackers`` slow uploads are in."""
    from gradio_client import Client, handle_file

    dense = bytearray(slow_file(folder / "dense.mid").read_bytes())
    jobs = []
    for n in range(attackers):
        dense[24] = 41 + n % 80  # the first note's pitch: a content not read before
        path = folder / f"dense-{time.time_ns()}-{n}.mid"
        path.write_bytes(bytes(dense))
        headers = {"X-Forwarded-For": f"10.9.{n // 250}.{n % 250}"} if n % 2 else None
        jobs.append(Client(url, verbose=False, headers=headers).submit(midi_file=handle_file(str(path)), length=4,
                                                                       api_name="/generate"))
    time.sleep(2.0)
    started = time.perf_counter()
    Client(url, verbose=False).predict(seed_notes="C4 D4 E4 F4 G4 A4 G4 E4", length=16, rng_seed=1,
                                       api_name="/generate")
    waited = time.perf_counter() - started
    outcomes = {"generated": 0, "refused at once": 0, "other message": 0}
    for job in jobs:
        try:
            job.result(timeout=600)
            outcomes["generated"] += 1
        except Exception as exc:
            said = str(exc)
            outcomes["refused at once" if "being read" in said or "busy reading" in said else "other message"] += 1
    return waited, outcomes


def restart_seconds(folder):
    """Seconds from SIGKILL of a server (a connection open) to its successor answering on the same port."""
    port = free_port()
    process, url, _ = start_app(folder / "first.log", args=["--port", str(port)])
    with httpx.Client() as browser:
        browser.get(url, timeout=30)
        process.kill()
        process.wait()
    started = time.perf_counter()
    again, _, _ = start_app(folder / "second.log", args=["--port", str(port)])
    seconds = time.perf_counter() - started
    stop_app(again)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attackers", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    process, url, _ = start_app(folder / "app.log")
    try:
        waits, outcomes = [], []
        for _ in range(args.runs):
            waited, outcome = victim_wait(url, args.attackers, folder)
            waits.append(waited)
            outcomes.append(outcome)
    finally:
        stop_app(process)
    restarts = [restart_seconds(folder) for _ in range(args.runs)]
    print(json.dumps({
        "machine": machine(), "attackers": args.attackers,
        "typed_request_behind_attackers_s": {"median": round(statistics.median(waits), 2),
                                             "max": round(max(waits), 2), "runs": waits},
        "attackers_outcomes": outcomes,
        "kill_9_to_serving_again_on_the_same_port_s": {"median": round(statistics.median(restarts), 2),
                                                         "runs": [round(r, 2) for r in restarts]},
    }, indent=2))


if __name__ == "__main__":
    main()
