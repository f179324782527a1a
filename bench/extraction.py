"""Melody extraction against POP909's sung melodies, and proxies on the Pokémon files.

POP909: every arrangement loses its track names and programs (all parts become unnamed piano), then
each method's melody is compared with the MELODY track (its notes by onset; of two starting together,
the highest). Similarity = 1 - Levenshtein(extracted pitches, true pitches) / the longer length;
length ratio = extracted / true notes; F1 over notes (same pitch, onsets within 50 ms, one to one).
"one track" rows keep only MELODY and PIANO, merged into a single part: a piano arrangement with the
tune in the right hand, which is what most Pokémon files are (BRIDGE, the secondary melody, left out).

Pokémon (no ground truth): share of intervals above a fifth, share of notes under C4, notes per file,
and hand-overs between parts per file (changes of the part a note comes from).

    .venv/bin/python bench/extraction.py [--limit N] [--workers N] [--show NAME ...]
"""
import argparse
import os
import time
from multiprocessing import Pool

import numpy as np
from common import POKEMON, ROOT

from melody.music.extraction import melody_notes
from melody.music.midi_io import load_midi
from melody.music.notes import note_name

POP909 = ROOT.parent / "shared" / "data" / "pop909"
METHODS = ("skyline", "melody")
ONSET_TOLERANCE_SECONDS = 0.05
SHOW = ("Pokemon - Pallet Town.mid", "Pokemon - Pokemon Center.mid", "Pokemon - Pkmn Elite 4.mid",
        "Pokemon Black & White - Village Bridge.mid")


def levenshtein(a, b):
    """Edit distance between two integer sequences (one numpy row per element of ``a``)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0 or len(b) == 0:
        return max(len(a), len(b))
    columns = np.arange(len(b) + 1)
    previous = columns.copy()
    for i, x in enumerate(a, 1):
        row = np.empty(len(b) + 1, dtype=np.int64)
        row[0] = i
        row[1:] = np.minimum(previous[:-1] + (b != x), previous[1:] + 1)
        # insertions chain along the row: row[j] = min over k <= j of row[k] + (j - k)
        previous = np.minimum.accumulate(row - columns) + columns
    return int(previous[-1])


def similarity(a, b):
    """1 - edit distance / longer length (1 for two empty sequences)."""
    return 1.0 - levenshtein(a, b) / max(len(a), len(b), 1)


def note_f1(extracted, truth):
    """F1 of notes matched one to one: same pitch, onsets within ``ONSET_TOLERANCE_SECONDS``."""
    if len(extracted) == 0 or len(truth) == 0:
        return 0.0
    used = np.zeros(len(truth), dtype=bool)
    hits = 0
    for start, _, pitch in extracted[:, :3]:
        candidates = np.flatnonzero(~used & (truth[:, 2] == pitch) & (np.abs(truth[:, 0] - start) <= ONSET_TOLERANCE_SECONDS))
        if len(candidates):
            used[candidates[np.argmin(np.abs(truth[candidates, 0] - start))]] = True
            hits += 1
    return 2 * hits / (len(extracted) + len(truth))


def true_melody(instrument):
    """The MELODY track's notes (start, end, pitch) by onset; of two starting together, the highest."""
    notes = np.array([(n.start, n.end, n.pitch) for n in instrument.notes], dtype=np.float64)
    notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    return notes[np.r_[True, np.diff(notes[:, 0]) > 1e-3]]


def anonymise(midi):
    """Remove what names a part: track names and programs (every part becomes an unnamed piano)."""
    for instrument in midi.instruments:
        instrument.name, instrument.program = "", 0
    return midi


def merge_parts(midi, names):
    """Keep only the named parts, merged into one (a one-track arrangement)."""
    parts = [i for i in midi.instruments if i.name in names]
    for other in parts[1:]:
        parts[0].notes.extend(other.notes)
    midi.instruments = parts[:1]
    return midi


def score_pop909(path):
    """{row: (similarity, length ratio, F1)} for one POP909 file."""
    midi = load_midi(path)
    truth = true_melody(next(i for i in midi.instruments if i.name == "MELODY"))
    merged = anonymise(merge_parts(load_midi(path), ("MELODY", "PIANO")))
    anonymise(midi)
    rows = {}
    for method in METHODS:
        for label, source in (("", midi), (" (one track)", merged)):
            notes = melody_notes(source, method)
            rows[method + label] = (similarity(notes[:, 2], truth[:, 2]), len(notes) / len(truth), note_f1(notes, truth))
    return rows


def pokemon_proxies(path):
    """{method: (share of intervals > 7 semitones, share of notes < C4, notes, hand-overs, parts)}."""
    midi = load_midi(path)
    parts = sum(not i.is_drum and bool(i.notes) for i in midi.instruments)
    rows = {}
    for method in METHODS:
        notes = melody_notes(midi, method)
        intervals = np.abs(np.diff(notes[:, 2]))
        rows[method] = (float(np.mean(intervals > 7)) if len(intervals) else 0.0,
                        float(np.mean(notes[:, 2] < 60)) if len(notes) else 0.0,
                        len(notes), int(np.count_nonzero(np.diff(notes[:, 3]))), parts)
    return rows


def show(path, count=24):
    """The first ``count`` notes of both methods, as note names, with the part each comes from."""
    midi = load_midi(path)
    parts = ", ".join(f"{i}: {inst.name!r} program {inst.program}" for i, inst in enumerate(midi.instruments))
    print(f"\n{path.name} (parts {parts}); note@part")
    for method in METHODS:
        notes = melody_notes(midi, method)[:count]
        print(f"  {method:8s} " + " ".join(f"{note_name(p)}@{int(part)}" for p, part in notes[:, 2:4]))


def table(results, columns):
    """Median and mean of each column of each row, as a Markdown table."""
    print("| row | files | " + " | ".join(f"{c} median | {c} mean" for c in columns) + " |")
    print("|---|---|" + "---|---|" * len(columns))
    for row, values in results.items():
        values = np.array(values, dtype=np.float64)
        cells = " | ".join(f"{np.median(values[:, k]):.3f} | {np.mean(values[:, k]):.3f}" for k in range(len(columns)))
        print(f"| {row} | {len(values)} | {cells} |")


def collect(pool, function, paths):
    results = {}
    for rows in pool.imap(function, paths, chunksize=4):
        for row, values in rows.items():
            results.setdefault(row, []).append(values)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N files of each folder")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--show", nargs="*", default=SHOW, help="Pokémon files whose first notes to print")
    args = parser.parse_args()
    started = time.perf_counter()
    with Pool(args.workers) as pool:
        if POP909.is_dir():
            paths = sorted(POP909.glob("*.mid"))[:args.limit]
            print(f"POP909: {len(paths)} files, names and programs removed, against the MELODY track\n")
            table(collect(pool, score_pop909, paths), ("similarity", "length ratio", "F1"))
        if POKEMON.is_dir():
            paths = sorted(POKEMON.glob("*.mid"))[:args.limit]
            results = collect(pool, pokemon_proxies, paths)
            print(f"\nPokémon: {len(paths)} files, no ground truth\n")
            table(results, ("intervals > 7", "notes < C4", "notes", "hand-overs"))
            several = {m: [r for r in rows if r[4] > 1] for m, rows in results.items()}
            if several["melody"]:
                print(f"\nthe {len(several['melody'])} Pokémon files with several pitched parts:\n")
                table(several, ("intervals > 7", "notes < C4", "notes", "hand-overs"))
    for name in args.show:
        if (POKEMON / name).is_file():
            show(POKEMON / name)
    print(f"\n{time.perf_counter() - started:.1f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
