"""Generation speed of two versions of the ``melody`` package in one process, alternating run by run
(these machines are shared and noisy: only a same-run comparison means anything).

    .venv/bin/python bench/before_after.py OLD_PACKAGE_DIR [--runs 30] [--length 256] [--checkpoint PATH] [--pins] [--rules]

``OLD_PACKAGE_DIR`` is a copy of an older ``melody/`` folder under another name (for instance
``git worktree add /tmp/old HEAD~1 && cp -r /tmp/old/melody /tmp/pkgs/melody_old`` gives
``/tmp/pkgs/melody_old``); its modules import each other relatively, so it loads beside this one.
Prints JSON: each version's median generation time, its ratio to one teacher-forced pass over the
same tokens (pairs run back to back), and whether both drew the same tokens.
"""
import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import POKEMON, machine  # noqa: F401  (puts the repository on the path)
from latency import SEED_NOTES, upload_file


def module(package, *names):
    """The first of ``names`` (the new layout's, then the flat one's) that ``package`` has."""
    for name in names:
        try:
            return importlib.import_module(f"{package.__name__}.{name}")
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"{package.__name__} has none of {names}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="a copy of the older melody/ folder, under another name")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--checkpoint", help="default: the default checkpoint")
    parser.add_argument("--rules", action="store_true",
                        help="instead: whether both versions draw the same tokens under every sampling rule, "
                             "for both shipped checkpoints (128 notes each)")
    parser.add_argument("--pins", action="store_true",
                        help="pin the first and last notes (E4, C5): the constrained sampler, 64 particles")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sys.path.insert(0, str(args.old.parent))
    versions = {"new": importlib.import_module("melody"), "old": importlib.import_module(args.old.name)}
    if args.rules:
        return same_under_every_rule(versions)
    song = upload_file()
    runs = {}
    checkpoint = versions["new"].load_model(args.checkpoint).path  # the same checkpoint for both
    for name, package in versions.items():
        model = package.load_model(checkpoint)
        seed = module(package, "serve.seed_sources", "seeds").seed_from_midi(song, 0, SEED_NOTES, model.encoding)[0]
        generate = package.generate
        runs[name] = (model, seed, generate)
        generate(model, seed, args.length, rng_seed=0)  # compiles or loads what it needs
    pins = {0: 64, args.length - 1: 72} if args.pins else None
    times = {name: [] for name in runs}
    ratios = {name: [] for name in runs}
    same = True
    for i in range(args.runs):
        made = {}
        for name, (model, seed, generate) in runs.items():
            start = time.perf_counter()
            made[name] = generate(model, seed, args.length, rng_seed=i, pins=pins)[0]
            took = time.perf_counter() - start
            tokens = torch.tensor([list(seed.tokens) + list(made[name].tokens)])
            positions = None
            if model.config.position_inputs:
                both = np.r_[seed.position_inputs(model.encoding), made[name].position_inputs(model.encoding)]
                positions = torch.tensor(both[None])
            with torch.no_grad():
                start = time.perf_counter()
                model(tokens, positions)
                forward = time.perf_counter() - start
            times[name].append(took)
            ratios[name].append(took / forward)
        same &= made["new"].tokens == made["old"].tokens
    print(json.dumps({"machine": machine(), "checkpoint": checkpoint.name, "generated_notes": args.length, "runs": args.runs,
                      **{name: {"generate_median_ms": round(float(np.median(times[name])) * 1000, 2),
                                "ratio_to_forward_median": round(float(np.median(ratios[name])), 2)}
                         for name in runs},
                      "same tokens in every run": bool(same)}, indent=2))


RULES = [{}, {"temperature": 0.5}, {"beta": 15}, {"temperature": 0}, {"num_variations": 3}, {"top_k": 5},
         {"memory": 0}, {"pins": {5: 72}}, {"scale": "A minor"}]


def same_under_every_rule(versions):
    """Print, for each checkpoint and rule, whether the two versions drew the same tokens."""
    found = {}
    for checkpoint in ("rhythm", "classic"):
        path = versions["new"].load_model(None).path.parent / f"{checkpoint}.pt"
        tokens = {}
        for name, package in versions.items():
            model = package.load_model(path)
            seeds = module(package, "serve.seed_sources", "seeds")
            generate = package.generate
            seed = seeds.seed_from_notes("E4/4 E4/4 F4/4 G4/4 G4/4 F4/4 E4/4 D4/4 C4/4 C4/4 D4/4 E4/4 E4/4. D4/8 D4/2",
                                         config=model.encoding)
            tokens[name] = [[list(r.tokens) for r in generate(model, seed, 128, rng_seed=7, **rule)] for rule in RULES]
        for rule, new, old in zip(RULES, tokens["new"], tokens["old"]):
            found[f"{checkpoint} {rule or 'default'}"] = new == old
    print(json.dumps({"same tokens": found, "all the same": all(found.values())}, indent=2))


if __name__ == "__main__":
    main()
