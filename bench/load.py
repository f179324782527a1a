"""Load: N simultaneous users of the HTTP API (gradio_client on loopback), each with its own seed.

    .venv/bin/python bench/load.py [--users 8] [--requests 3] [--length 128] [--url http://127.0.0.1:7860/]

Without --url it starts `python app.py` on a free port and stops it afterwards. Reports throughput,
p50/p95 latency and errors, and checks that every user got back a MIDI file that starts with its
own seed (no results crossing between users).
"""
import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from common import summary

from app_process import start_app, stop_app  # isort: skip  (tests/, put on the path by common)
from midi_factory import pitches_in


def run_user(url, number, requests, length, results):
    from gradio_client import Client

    client = Client(url, verbose=False)
    seed = [55 + (number * 5 + i * (number + 2)) % 30 for i in range(8)]  # a different seed per user
    for attempt in range(requests):
        started = time.perf_counter()
        try:
            _, _, midi_path, _ = client.predict(seed_notes=" ".join(map(str, seed)), length=length,
                                                rng_seed=number * 1000 + attempt, original_key=False,
                                                api_name="/generate")
            notes = pitches_in(midi_path)
            crossed = notes[: len(seed)] != model_key_seed(seed)
            results.append((time.perf_counter() - started, "crossed" if crossed else None))
        except Exception as exc:  # counted and reported, never fatal to the benchmark
            results.append((time.perf_counter() - started, f"{type(exc).__name__}: {exc}"))


def model_key_seed(seed):
    """The seed as the model plays it: in C (original_key=False), folded into range."""
    from melody.serve.playground import seed_from_pitches

    return list(seed_from_pitches(seed).pitches)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3, help="requests per user")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--url")
    args = parser.parse_args()
    process = None
    url = args.url
    if not url:
        process, url, _ = start_app(Path(tempfile.mkdtemp()) / "app.log")
    results = []
    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=run_user, args=(url, n, args.requests, args.length, results))
                   for n in range(args.users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        if process:
            stop_app(process)
    errors = [e for _, e in results if e]
    report = {"users": args.users, "requests": len(results), "notes per request": args.length,
              "seconds": round(elapsed, 2), "throughput (requests/s)": round(len(results) / elapsed, 2),
              "latency": summary([t for t, _ in results]), "errors": len(errors), "error messages": errors[:5]}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
