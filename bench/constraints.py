"""Steering, measured on unseen Pokémon songs: how pins are reached, infilling, loop seams, and speed.

For each test song (its first 32 notes are the seed):

- **Pins reached musically**: the song's real notes 15 and 31 after the seed are pinned in a
  32-note continuation; the interval into and out of each pinned note is compared with the real
  song's at the same places, and with naive forcing (an unconstrained continuation whose notes 15
  and 31 are overwritten).
- **Infilling**: notes 0-15 after the seed are blanked; their first and last notes and the following
  16 notes are pinned (pitch, length and onset). The real stretch's bits per note under the
  constrained sampler, ``-(log p(stretch and what follows) - log Z) / 16``, with ``Z`` the sampler's
  estimate of the probability of the constraints, against ``-log p(stretch) / 16`` when continuing
  freely. Then the realism classifier (``bench/realism.py``'s) on infilled against real stretches.
- **Loop seam**: the seed's first notes played after a 32-note continuation made with ``loop=True``,
  in bits per note, against the same after a free continuation, and against the song's own notes
  (every note of the real continuation, teacher-forced).
- **Speed**: a 64-note infill with 256 particles, and a whole constrained Generate request
  through the HTTP API.

    .venv/bin/python bench/constraints.py [--checkpoint PATH] [--parts test] [--particles 256] [--json PATH]
"""
import argparse
import math
import shlex
import sys
import time

import numpy as np
from common import POKEMON, machine, save_report, summary
from realism import cross_validated_accuracy, seed_and_rest

from melody import load_model
from melody.data.corpus import encode_folder, split_songs
from melody.evaluate.quality import features
from melody.generation import smc as constrained
from melody.generation.continuation import Continuation
from melody.generation.sampling import generate
from melody.generation.steering import Pin, constraints

LN2 = math.log(2)


def log_probs(model, seed, tokens):
    """Natural-log probability of each of ``tokens`` after ``seed`` under the model (with its memory
    and echo; without the guards, which would give real repetitions probability 0)."""
    state = Continuation(model, seed, 1)
    out = []
    for token in tokens:
        probs = state.distribution()
        out.append(math.log(max(probs[0, token], 1e-300)))
        state.advance([token])
    return np.array(out)


def continuation_tokens(model, seed, notes, count):
    """The tokens of the first ``count`` of ``notes`` (on the seed's time axis) after the seed, rests
    included, and how many tokens each note ends at."""
    config = model.encoding
    chosen = notes[:count]
    following = notes[count][0] if len(notes) > count else None
    tokens = config.tokens_of([(o - seed.end_step, s, p) for o, s, p in chosen],
                              (following - seed.end_step) if following is not None else None)
    start_rest = chosen[0][0] - seed.end_step
    lead = list(config.tokens_of([], start_rest)) if start_rest > 0 else []
    return lead + list(tokens)


def pitches_of(model, tokens):
    pitch_of_token, _ = model.encoding.token_table()
    return [int(p) for p in pitch_of_token[tokens] if p >= 0]


def pins_figures(model, songs, particles, rng_seed):
    """Mean |interval| into and out of pinned notes 15 and 31: real, the sampler, naive forcing."""
    into, steered, forced = [], [], []
    for n, (seed, rest) in enumerate(songs):
        pitches = [p for _, _, p in rest[:33]]
        pins = {15: pitches[15], 31: pitches[31]}
        into += [abs(pitches[i] - pitches[i - 1]) for i in (15, 31)] + [abs(pitches[16] - pitches[15])]
        runs = generate(model, seed, 33, rng_seed=rng_seed + n, num_variations=4, pins=pins, particles=particles)
        for r in runs:
            p = r.pitches
            steered += [abs(p[i] - p[i - 1]) for i in (15, 31)] + [abs(p[16] - p[15])]
        for r in generate(model, seed, 33, rng_seed=rng_seed + n, num_variations=4):
            p = list(r.pitches)
            p[15], p[31] = pins[15], pins[31]
            forced += [abs(p[i] - p[i - 1]) for i in (15, 31)] + [abs(p[16] - p[15])]
    return {"real": float(np.mean(into)), "sampler": float(np.mean(steered)), "naive forcing": float(np.mean(forced))}


def infill_figures(model, songs, particles, rng_seed):
    """Bits per note of the real 16-note stretch, constrained against free; and infilled examples."""
    constrained_bits, free_bits, examples = [], [], []
    for n, (seed, rest) in enumerate(songs):
        stretch = rest[:32]
        timed = model.encoding.rhythm  # the classic model's notes are all eighths: pitches only
        pins = {i: Pin(p, s, o - seed.end_step) if timed else Pin(p)
                for i, (o, s, p) in enumerate(stretch) if i in (0, 15) or i >= 16}
        asked = constraints(pins, seed=seed, model=model, length=32)
        result = constrained.sample(model, seed, 32, asked, (1.0, None, None, None), np.random.default_rng(rng_seed + n),
                                    variations=4, repetition_guard=False, particles=particles)
        tokens = continuation_tokens(model, seed, rest, 32)
        logs = log_probs(model, seed, tokens)
        pitch_of_token, _ = model.encoding.token_table()
        ends = np.flatnonzero(pitch_of_token[tokens] >= 0)
        upto16 = ends[15] + 1  # the tokens of the stretch (its notes and rests)
        free_bits.append(-logs[:upto16].sum() / 16 / LN2)
        constrained_bits.append(-(logs.sum() - result.log_evidence) / 16 / LN2)
        seed_notes = list(seed.notes)
        examples.append((f"song{n}", seed_notes, stretch[:16], True))
        for made in result.tokens:
            notes, _ = model.encoding.notes_of(made, seed.end_step)
            examples.append((f"song{n}", seed_notes, notes[:16], False))
    X = np.array([features(s, notes, model_bar(songs))[0] for _, s, notes, _ in examples])
    y = np.array([0 if real else 1 for *_, real in examples])
    groups = np.array([song for song, *_ in examples])
    scores = cross_validated_accuracy(X, y, groups, folds=5, repeats=5)
    return {"bits_per_note_constrained": float(np.mean(constrained_bits)), "bits_per_note_free": float(np.mean(free_bits)),
            "classifier_accuracy": {k: float(np.mean(v)) for k, v in scores.items()},
            "classifier_sd": {k: float(np.std(v)) for k, v in scores.items()}}


def model_bar(songs):
    return songs[0][0].steps_per_bar


def seam_figures(model, songs, particles, rng_seed):
    """Bits per note of the seed's first 8 notes after a looped and a free continuation, and the
    mean bits per note of the real continuations."""
    looped, free, real = [], [], []
    for n, (seed, rest) in enumerate(songs):
        opening = list(seed.tokens[:8])
        for loop, out in ((True, looped), (False, free)):
            runs = generate(model, seed, 32, rng_seed=rng_seed + n, num_variations=2, loop=loop, particles=particles)
            for r in runs:
                whole = seed.then(r, model.encoding)
                logs = log_probs(model, whole, opening)
                out.append(-logs.sum() / max(1, len(pitches_of(model, opening))) / LN2)
        tokens = continuation_tokens(model, seed, rest, 32)
        real.append(-log_probs(model, seed, tokens).sum() / 32 / LN2)
    return {"seam_bits_per_note_loop": float(np.mean(looped)), "seam_bits_per_note_free": float(np.mean(free)),
            "real_bits_per_note": float(np.mean(real))}


def speed_figures(model, songs, particles, runs):
    seed, rest = songs[0]
    stretch = rest[:64]
    pins = {0: stretch[0][2], 63: stretch[63][2]}
    asked = constraints(pins, seed=seed, model=model, length=64)
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        constrained.sample(model, seed, 64, asked, (1.0, None, None, None), np.random.default_rng(i), particles=particles)
        times.append(time.perf_counter() - start)
    plain = []
    for i in range(runs + 1):
        start = time.perf_counter()
        generate(model, seed, 64, rng_seed=i)
        plain.append(time.perf_counter() - start)
    return {"infill_64_notes": summary(times[1:]), "unconstrained_64_notes": summary(plain[1:])}


def api_figures(runs):
    import tempfile
    from pathlib import Path

    from app_process import start_app
    from gradio_client import Client

    folder = tempfile.mkdtemp(prefix="bench-constraints-")
    process, url, _ = start_app(Path(folder) / "app.log", env={"MELODY_TMP": folder})
    try:
        client = Client(url, verbose=False)
        times = {"plain": [], "constrained": []}
        for i in range(runs + 1):
            for kind, extra in (("plain", {}), ("constrained", dict(pins="15:C5 63:C4", scale="key", loop=True))):
                start = time.perf_counter()
                client.predict(seed_notes="E4 E4 F4 G4 G4 F4 E4 D4 C4 C4 D4 E4 E4/4. D4/8 D4/2", length=64,
                               rng_seed=i, api_name="/generate", **extra)
                if i:
                    times[kind].append(time.perf_counter() - start)
        return {kind: summary(t) for kind, t in times.items()}
    finally:
        process.terminate()
        process.wait(30)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the default checkpoint")
    parser.add_argument("--data", default=str(POKEMON))
    parser.add_argument("--parts", nargs="+", default=["test"], choices=["train", "validation", "test"])
    parser.add_argument("--particles", type=int, default=constrained.PARTICLES)
    parser.add_argument("--runs", type=int, default=10, help="timed runs for the speed figures")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--rng-seed", type=int, default=0)
    parser.add_argument("--json", help="also write the report here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = load_model(args.checkpoint)
    found, _ = encode_folder(args.data, config=model.encoding, progress=False)
    parts = split_songs(found)
    songs = [seed_and_rest(model, song) for part in args.parts for song in parts[part] if len(song.melody) >= 32 + 64]
    report = {"command": "python bench/constraints.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "machine": machine(), "checkpoint": model.path.name, "songs": len(songs), "particles": args.particles}
    parts = [("speed", lambda: speed_figures(model, songs, args.particles, args.runs)),
             ("pins", lambda: pins_figures(model, songs, args.particles, args.rng_seed)),
             ("infill", lambda: infill_figures(model, songs, args.particles, args.rng_seed)),
             ("seam", lambda: seam_figures(model, songs, args.particles, args.rng_seed))]
    if not args.skip_api:
        parts.insert(1, ("api", lambda: api_figures(args.runs)))
    for name, measure in parts:  # each part is written as soon as it is measured
        report[name] = measure()
        text = save_report(report, args.json)
    print(text)


if __name__ == "__main__":
    main()
