"""Shared helpers of the benchmark scripts: timing statistics and the machine they ran on."""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and the test helpers the benchmarks share
POKEMON = ROOT.parent / "shared" / "data" / "pokemon-midi"


def timed(function, runs, warmup=1):
    """Seconds of each of ``runs`` calls (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def save_report(report, path):
    """Write ``report`` as indented JSON to ``path`` (when one is given); returns the text."""
    text = json.dumps(report, indent=2)
    if path:
        with open(path, "w") as handle:
            handle.write(text + "\n")
    return text


def summary(times):
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2), "runs": len(times)}


def machine():
    """One line about the machine: CPU model, cores, Python and torch versions."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")


def whole_number_options(doc, **defaults):
    """The command line of a benchmark whose options are all whole numbers: ``--name N`` for each
    keyword (underscores as dashes), with its default; returns the parsed arguments."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in defaults.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    return parser.parse_args()
