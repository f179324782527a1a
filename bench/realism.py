"""Realism: can a simple classifier tell the model's continuations from real ones, and do they have form?

Seeds are the first 32 notes of the unseen (test) Pokémon songs; the real continuation is each
song's next notes (up to --length), and the model continues the same seed --per-song times, to the
same length. Two classifiers (logistic regression on standardised features, gradient boosting) on
``melody.quality.features`` learn to tell the two apart, cross-validated by song (a song's real and
generated continuations are always in the same fold): 50% balanced accuracy means they cannot.
The form table compares repeats of earlier material, stuck loops and the longest run shared with
a training song.

    .venv/bin/python bench/realism.py [--checkpoint PATH] [--temperature 1] [--beta B] [--memory 0.5]
                                      [--per-song 4] [--length 256] [--json PATH]
"""
import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import POKEMON, machine
from threadpoolctl import threadpool_limits

from melody import load_model
from melody.data.corpus import encode_folder, split_songs
from melody.evaluate.quality import (
    EIGHTH_STEPS,
    STEPS_PER_BAR,
    features,
    rests,
    self_repetition,
    stuck_loops,
)
from melody.generation.originality import longest_shared_run
from melody.generation.sampling import generate

SEED_NOTES = 32
FORM_WINDOW = 8


@dataclass(frozen=True)
class Example:
    """One continuation of a song's seed: the real one or a generated one."""

    song: str
    seed: list
    notes: list
    real: bool
    steps_per_bar: int = STEPS_PER_BAR


# --- The two adapters to the encoding: the only code that changes when the model learns rhythm. ---

def seed_and_rest(model, song, seed_notes=SEED_NOTES):
    """A song's first ``seed_notes`` notes as a seed ``Melody`` (moved back to its first bar), and the
    song's other notes on the seed's time axis. With the classic encoding every note is an eighth
    with no rests; with the rhythm encoding notes keep their lengths, rests and bar positions."""
    melody = song.melody
    seed = melody.part(0, seed_notes, model.encoding)
    shift = melody.notes[0][0] - seed.notes[0][0]
    return seed, [(o - shift, s, p) for o, s, p in melody.notes[seed_notes:]]


def generate_continuations(model, seed, length, n, rng_seed, **settings):
    """``n`` continuations of ``length`` notes after the seed ``Melody``, as note lists on the seed's
    time axis. ``settings`` are ``melody.generate``'s (temperature, beta, top_k, top_p, memory)."""
    runs = generate(model, seed, length, rng_seed=rng_seed, num_variations=n, **settings)
    return [list(run.notes) for run in runs]


def shared_run(model, notes):
    """Longest run of notes shared with a training song, by the checkpoint's originality index."""
    return longest_shared_run(model.info["originality"], [p for _, _, p in notes])


# --- The evaluation set. ---

def evaluation_set(model, songs, length, min_length, per_song, rng_seed, settings):
    """Real and generated continuations of every song long enough for a seed and ``min_length`` notes."""
    examples = []
    for number, song in enumerate(songs):
        if len(song.melody) < SEED_NOTES + min_length:
            continue
        seed, rest = seed_and_rest(model, song)
        real, bar = rest[:length], song.melody.steps_per_bar
        examples.append(Example(song.name, list(seed.notes), real, True, bar))
        for made in generate_continuations(model, seed, len(real), per_song, rng_seed + number, **settings):
            examples.append(Example(song.name, list(seed.notes), made, False, bar))
    return examples


def feature_matrix(examples):
    """``(X, y, groups, names)``: features, 1 for generated, the song of each example."""
    rows = [features(e.seed, e.notes, e.steps_per_bar) for e in examples]
    X = np.array([values for values, _ in rows])
    y = np.array([0 if e.real else 1 for e in examples])
    return X, y, np.array([e.song for e in examples]), rows[0][1]


def is_fixed_eighths(notes):
    """True for a melody of the classic encoding: every note an eighth, no rests."""
    return all(duration == EIGHTH_STEPS for _, duration, _ in notes) and not rests(notes).any()


# --- The classifiers. ---

def classifiers(rng_seed=0):
    """Logistic regression on standardised features and gradient boosting, both weighting the
    classes to equal total weight (one real continuation per song against several generated ones)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic regression": make_pipeline(StandardScaler(),
                                             LogisticRegression(class_weight="balanced", max_iter=5000)),
        "gradient boosting": HistGradientBoostingClassifier(class_weight="balanced", random_state=rng_seed),
    }


def cross_validated_accuracy(X, y, groups, folds=5, repeats=1, rng_seed=0):
    """Balanced accuracy of each classifier on songs it did not see, fold by fold.

    Parameters
    ----------
    X : array [examples, features]
    y : array of 0/1
    groups : array
        The song of each example; a song's examples are never split between training and test.
    folds : int
        Folds per repeat (fewer when there are fewer songs).
    repeats : int
        Shuffled repeats of the grouped split (a few songs per fold make one split noisy).

    Returns
    -------
    dict
        Classifier name -> list of balanced accuracies (0.5 = cannot tell), one per fold and repeat.
    """
    from sklearn.model_selection import GroupKFold, cross_val_score

    splits = min(folds, len(set(groups)))
    scores = {}
    # A few hundred rows: starting OpenMP threads costs more than they save (gradient boosting
    # ran 5x slower with 2 threads on a busy 2-core machine).
    with threadpool_limits(limits=1):
        for name, model in classifiers(rng_seed).items():
            scores[name] = []
            for repeat in range(repeats):
                shuffled = dict(shuffle=True, random_state=rng_seed + repeat) if repeats > 1 else {}
                cv = GroupKFold(n_splits=splits, **shuffled)
                scores[name] += cross_val_score(model, X, y, groups=groups, cv=cv, scoring="balanced_accuracy").tolist()
    return scores


def telling_features(X, y, names, count=10):
    """The features the logistic regression leans on most (standardised coefficients; + = generated).

    Histogram bins sum to 1, so neighbouring coefficients share weight: read them with the plain
    difference of the class means (``difference_sd``, in standard deviations of the feature)."""
    model = classifiers()["logistic regression"].fit(X, y)
    coefficients = model[-1].coef_[0]
    order = np.argsort(-np.abs(coefficients))[:count]
    spread = X.std(0)
    spread[spread == 0] = 1.0
    return [{"feature": names[i], "coefficient": float(coefficients[i]), "real_mean": float(X[y == 0, i].mean()),
             "generated_mean": float(X[y == 1, i].mean()),
             "difference_sd": float((X[y == 1, i].mean() - X[y == 0, i].mean()) / spread[i])} for i in order]


# --- Form. ---

def form_figures(examples, model, window=FORM_WINDOW):
    """Repeats of earlier material (the seed included), loops and shared runs, pooled over the examples."""
    windows = repeats = repeats_with_duration = 0
    lags_notes, lags_bars, whole = [], [], []
    for e in examples:
        found = self_repetition(e.notes, window, e.steps_per_bar, context=e.seed)
        windows += found.windows
        repeats += len(found.lags_notes)
        repeats_with_duration += round(found.pitch_duration_share * found.windows)
        lags_notes += found.lags_notes.tolist()
        lags_bars += (found.lags_steps / e.steps_per_bar).tolist()
        whole += (found.lags_steps % e.steps_per_bar == 0).tolist()
    loops = [stuck_loops(e.notes) for e in examples]
    nan = None  # nothing to measure (no windows, no repeats): null in the JSON, a dash in the table
    return {
        "continuations": len(examples),
        "windows": windows,
        "repeat_share_pitch": repeats / windows if windows else nan,
        "repeat_share_pitch_duration": repeats_with_duration / windows if windows else nan,
        "median_lag_notes": float(np.median(lags_notes)) if lags_notes else nan,
        "median_lag_bars": float(np.median(lags_bars)) if lags_bars else nan,
        "whole_bar_share": float(np.mean(whole)) if whole else nan,
        "stuck_loop_share_pitch": float(np.mean([found.stuck for found in loops])),
        "stuck_loop_share_pitch_duration": float(np.mean([bool(found.pitch_duration) for found in loops])),
        "median_shared_run_notes": float(np.median([shared_run(model, e.notes)[0] for e in examples])),
    }


FORM_ROWS = [
    ("repeat_share_pitch", f"{FORM_WINDOW}-note windows repeating earlier material (pitches)", "{:.1%}"),
    ("repeat_share_pitch_duration", f"{FORM_WINDOW}-note windows repeating earlier material (pitches + durations)",
     "{:.1%}"),
    ("median_lag_notes", "median lag of a repeat, notes", "{:.0f}"),
    ("median_lag_bars", "median lag of a repeat, bars", "{:.1f}"),
    ("whole_bar_share", "repeats a whole number of bars back", "{:.0%}"),
    ("stuck_loop_share_pitch", "continuations with a stuck loop (period <= 4, >= 16 notes)", "{:.0%}"),
    ("stuck_loop_share_pitch_duration", "the same, pitches + durations", "{:.0%}"),
    ("median_shared_run_notes", "longest run shared with a training song, median (notes)", "{:.0f}"),
]


def _shown(value, fmt):
    return "–" if value is None else fmt.format(value)


def markdown(report):
    s = report["settings"]
    lines = [f"## Realism of {report['checkpoint']}: temperature {s['temperature']:g}, beta {s['beta']}, "
             f"memory {s['memory']:g}, top-k {s['top_k']}, top-p {s['top_p']}", "",
             f"{report['songs']} songs ({' + '.join(s['parts'])}), {report['real']} real and "
             f"{report['generated']} generated continuations (up to {s['length']} notes after a "
             f"{SEED_NOTES}-note seed).", "",
             f"| classifier (grouped by song, {report['folds']} folds x {report['repeats']}) | balanced accuracy |",
             "|---|---|"]
    for name, scores in report["accuracy"].items():
        lines.append(f"| {name} | {np.mean(scores):.1%} ± {np.std(scores):.1%} |")
    lines += ["", "| form | real | generated |", "|---|---|---|"]
    for key, label, fmt in FORM_ROWS:
        real, generated = report["form"]["real"][key], report["form"]["generated"][key]
        lines.append(f"| {label} | {_shown(real, fmt)} | {_shown(generated, fmt)} |")
    lines += ["", "Most telling features (logistic regression, standardised coefficient; + = generated):", "",
              "| feature | coefficient | real mean | generated mean | difference (SD) |", "|---|---|---|---|---|"]
    for f in report["telling_features"]:
        lines.append(f"| {f['feature']} | {f['coefficient']:+.2f} | {f['real_mean']:.3g} | {f['generated_mean']:.3g} "
                     f"| {f['difference_sd']:+.2f} |")
    if report["fixed_eighths"]:
        lines += ["", "Every note of these melodies is an eighth with no rests (the encoding keeps pitches only), so a "
                  "repeat's lag in time is its lag in notes x 2 steps: the whole-bar share counts repeats a multiple "
                  "of 8 notes back, not the songs' own bar lines."]
    lines += ["", f"Machine: {report['machine']}", f"Command: `{report['command']}`",
              f"Run time: {report['seconds']:.0f} s"]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(POKEMON), help="folder of MIDI files (default: the Pokémon files)")
    parser.add_argument("--checkpoint", help="default: the newest in checkpoints/")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--beta", type=float)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--memory", type=float, default=1.0, help="song memory and echo (default 1, as the app)")
    parser.add_argument("--per-song", type=int, default=4, help="generated continuations per song")
    parser.add_argument("--length", type=int, default=256, help="notes per continuation at most")
    parser.add_argument("--min-length", type=int, default=64, help="skip songs with fewer notes after the seed")
    parser.add_argument("--parts", nargs="+", default=["test"], choices=["train", "validation", "test"],
                        help="which songs of the split (default: the unseen test songs)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="shuffled repeats of the grouped cross-validation")
    parser.add_argument("--rng-seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "melody-playground-cache"),
                        help="cache of encoded songs (default in the temporary folder)")
    parser.add_argument("--json", help="also write every figure to this file")
    return parser.parse_args(argv)


def main(argv=None):
    started = time.perf_counter()
    args = parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data} is not here: this benchmark needs the Pokémon files (--data) for its "
                         "unseen songs.")
    model = load_model(args.checkpoint)
    songs, _ = encode_folder(args.data, config=model.encoding, cache_dir=args.cache_dir, progress=False)
    parts = split_songs(songs)
    chosen = [song for part in args.parts for song in parts[part]]
    settings = dict(temperature=args.temperature, beta=args.beta, top_k=args.top_k, top_p=args.top_p,
                    memory=args.memory)
    examples = evaluation_set(model, chosen, args.length, args.min_length, args.per_song, args.rng_seed, settings)
    X, y, groups, names = feature_matrix(examples)
    report = {
        "checkpoint": model.path.name,
        "settings": dict(settings, length=args.length, min_length=args.min_length, per_song=args.per_song,
                         parts=args.parts, rng_seed=args.rng_seed),
        "songs": len(set(groups)), "real": int((y == 0).sum()), "generated": int((y == 1).sum()),
        "folds": min(args.folds, len(set(groups))), "repeats": args.repeats,
        "accuracy": cross_validated_accuracy(X, y, groups, args.folds, args.repeats, args.rng_seed),
        "telling_features": telling_features(X, y, names),
        "form": {"real": form_figures([e for e in examples if e.real], model),
                 "generated": form_figures([e for e in examples if not e.real], model)},
        "fixed_eighths": all(is_fixed_eighths(e.seed + e.notes) for e in examples),
        "feature_means": {"names": names, "real": X[y == 0].mean(0).tolist(), "generated": X[y == 1].mean(0).tolist()},
        "machine": machine(),
        "command": shlex.join([".venv/bin/python", "bench/realism.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    report["accuracy_summary"] = {name: {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
                                  for name, scores in report["accuracy"].items()}
    report["seconds"] = time.perf_counter() - started
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
