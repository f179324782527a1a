"""What running generation in a worker process costs: the same requests in this process and in a
worker (``Playground(isolated=True)``, as the server runs them), alternating, on one machine in one run.

    .venv/bin/python bench/isolation.py [--runs 20] [--length 256] [--variations 1]

Prints JSON: each way's median and p95 for a whole Generate (audio, pictures, files), the difference,
whether both made the same tokens, the workers' memory (resident set) and how long a worker takes to
start again after a crash (until it has warmed up and serves a request).
"""
import json
import os
import signal
import tempfile
import time

from common import machine, summary, whole_number_options

from melody.serve.playground import Playground
from melody.serve.seed_sources import seed_from_notes
from melody.settings import Settings

SEED = "E4/4 E4/4 F4/4 G4/4 G4/4 F4/4 E4/4 D4/4 C4/4 C4/4 D4/4 E4/4 E4/4. D4/8 D4/2"


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS")) / 1024


def main():
    args = whole_number_options(__doc__, runs=20, length=256, variations=1)
    folder = tempfile.mkdtemp()
    ways = {"in_process": Playground(output_dir=folder, voices=1),
            "worker": Playground(output_dir=folder, voices=1, isolated=True)}
    for playground in ways.values():
        playground.warm_up()
    seed = seed_from_notes(SEED, config=ways["in_process"].encoding())
    times = {name: [] for name in ways}
    same = True
    for run in range(args.runs + 1):
        tokens = {}
        for name, playground in ways.items():
            settings = Settings(length=args.length, rng_seed=run, variations=args.variations, histogram=True)
            started = time.perf_counter()
            result = playground.generate(seed, settings)
            if run:  # the first pair is a warm-up
                times[name].append(time.perf_counter() - started)
            tokens[name] = [v.continuation.tokens for v in result.variations]
        same &= tokens["in_process"] == tokens["worker"]
    workers = ways["worker"].workers
    pid = workers.pids()[0]
    memory = round(resident_mb(pid))
    os.kill(pid, signal.SIGKILL)
    started = time.perf_counter()
    try:
        ways["worker"].generate(seed, Settings(length=8, rng_seed=1))
    except Exception:  # the request the crash cost
        pass
    ways["worker"].generate(seed, Settings(length=8, rng_seed=1))
    restart = time.perf_counter() - started
    medians = {name: summary(values) for name, values in times.items()}
    print(json.dumps({
        "machine": machine(), "generated_notes": args.length, "variations": args.variations,
        **medians, "worker_minus_in_process_median_ms": round(
            medians["worker"]["median_ms"] - medians["in_process"]["median_ms"], 2),
        "same tokens": same, "worker_resident_mb": memory, "server_resident_mb": round(resident_mb(os.getpid())),
        "crash_to_served_again_s": round(restart, 2),
    }, indent=2))
    for playground in ways.values():
        playground.close()


if __name__ == "__main__":
    main()
