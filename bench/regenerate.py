"""Regenerating bars (``melody.regenerate``), measured on unseen Pokémon songs: how the new bars join
the music around them, and how long a request takes.

For each test song with at least 8 whole bars, bars 4 and 5 are regenerated (bars 0-3 before them,
bar 6 on after them). Figures:

- **Joins**: the mean size of the interval (semitones) from the last note before the range into its
  first note, and from its last note out into the first note after it, against the real song's at the
  same places, and against candidates drawn without looking at the notes after the range
  (``FOLLOWING_TOKENS = 0``): the bars should lead out no worse than the song does.
- **What follows**: the model's log-probability of the 8 tokens after the range, given the new bars
  (higher: the new bars lead into what follows as the model expects), with and without looking ahead.
- **Speed**: median and p95 milliseconds of a 2-bar ``regenerate`` call on this machine (warm).

    .venv/bin/python bench/regenerate.py [--checkpoint PATH] [--parts test] [--json PATH]
"""
import argparse
import shlex
import sys
import time

import numpy as np
from common import POKEMON, machine, save_report, summary

from melody import load_model, regenerate
from melody.data.corpus import encode_folder, split_songs
from melody.generation import regenerate as regen
from melody.generation.continuation import Continuation, seed_melody

FIRST_BAR, LAST_BAR = 4, 6  # bars 4 and 5 are regenerated


def joins(melody, start, end):
    """``(into, out)``: semitones from the last note before ``start`` to the first in the range, and from
    the last in the range to the first from ``end`` on (None where there is no such pair)."""
    before = [p for o, _, p in melody.notes if o < start]
    inside = [p for o, _, p in melody.notes if start <= o < end]
    after = [p for o, _, p in melody.notes if o >= end]
    into = abs(inside[0] - before[-1]) if before and inside else None
    out = abs(after[0] - inside[-1]) if inside and after else None
    return into, out


def following_log_prob(model, melody, end):
    """The model's log-probability (with its song memory, as sampled) of the 8 tokens after ``end``."""
    before = regen._before(melody, end, model.encoding)
    following = regen._following(melody, end, model.encoding)
    state = Continuation(model, seed_melody(model, before), 1, 1.0)
    total = 0.0
    for token in following:
        total += float(np.log(max(state.distribution()[0, token], 1e-300)))
        state.advance([token])
    return total


def mean(values):
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 3) if values else None


def measure(model, songs, rng_seed):
    real, looked, blind = {"into": [], "out": []}, {"into": [], "out": [], "follow": []}, \
        {"into": [], "out": [], "follow": []}
    times = []
    for n, song in enumerate(songs):
        start, end = regen.bar_range(song, FIRST_BAR, LAST_BAR)
        into, out = joins(song, start, end)
        real["into"].append(into)
        real["out"].append(out)
        for figures, ahead in ((looked, regen.FOLLOWING_TOKENS), (blind, 0)):
            kept, regen.FOLLOWING_TOKENS = regen.FOLLOWING_TOKENS, ahead
            try:
                started = time.perf_counter()
                new = regenerate(model, song, FIRST_BAR, LAST_BAR, rng_seed=rng_seed + n)
                if ahead:
                    times.append(time.perf_counter() - started)
            finally:
                regen.FOLLOWING_TOKENS = kept
            into, out = joins(new, start, end)
            figures["into"].append(into)
            figures["out"].append(out)
            figures["follow"].append(following_log_prob(model, new, end))
    return {"mean interval into the range (semitones)": {"real": mean(real["into"]), "regenerated": mean(looked["into"]),
                                                          "without looking ahead": mean(blind["into"])},
            "mean interval out of the range (semitones)": {"real": mean(real["out"]), "regenerated": mean(looked["out"]),
                                                           "without looking ahead": mean(blind["out"])},
            "log p(8 tokens after the range)": {"regenerated": mean(looked["follow"]),
                                                "without looking ahead": mean(blind["follow"])},
            "2-bar regenerate, warm": summary(times)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the default checkpoint")
    parser.add_argument("--data", default=str(POKEMON))
    parser.add_argument("--parts", nargs="+", default=["test"], choices=["train", "validation", "test"])
    parser.add_argument("--rng-seed", type=int, default=0)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    model = load_model(args.checkpoint)
    found, _ = encode_folder(args.data, config=model.encoding, progress=False)
    parts = split_songs(found)
    songs = [seed_melody(model, song.melody) for part in args.parts for song in parts[part]]
    songs = [song for song in songs if song.bar_count >= 8]
    regenerate(model, songs[0], FIRST_BAR, LAST_BAR)  # warm: the compiled steps are loaded once
    report = {"command": "python bench/regenerate.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "machine": machine(), "checkpoint": model.path.name, "songs": len(songs),
              "candidates": regen.CANDIDATES, **measure(model, songs, args.rng_seed)}
    print(save_report(report, args.json))


if __name__ == "__main__":
    main()
