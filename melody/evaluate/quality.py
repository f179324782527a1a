"""Does a melody sound like music? Form and style measures, and the features of the realism test.

A melody here is a sequence of notes ``(onset_step, duration_steps, pitch)`` on the 16th-note grid,
sorted by onset; a rest is the gap between a note's end and the next onset. Seed and continuation
share one time axis (the continuation's onsets go on after the seed's). The classic encoding, where
every note lasts the same, is represented as eighth notes, as the playground plays them
(:func:`notes_from_pitches`), so the same measures apply before and after the encoding has rhythm.

Everything here is a pure function of the notes; ``bench/realism.py`` uses them to tell generated
continuations from real ones.
"""
from dataclasses import dataclass

import numpy as np

from ..music.notes import STEPS_PER_WHOLE

STEPS_PER_BAR = STEPS_PER_WHOLE  # 4/4 on the 16th-note grid
EIGHTH_STEPS = 2
MAX_INTERVAL = 12  # larger leaps share the outermost bins
MAX_CONTOUR_RUN = 4  # runs of 4 or more moves in one direction share a bin
DURATION_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # upper edges in steps; the last bin is everything longer
REST_BINS = (0, 1, 2, 4, 8, 16)  # upper edges in steps (0: no rest); the last bin is everything longer
SEED_NGRAM = 4


@dataclass(frozen=True)
class Repetition:
    """What :func:`self_repetition` found.

    Attributes
    ----------
    windows : int
        Windows of the melody looked at.
    pitch_share, pitch_duration_share : float
        Share of the windows whose pitches (pitches and durations) occurred earlier.
    lags_notes, lags_steps : numpy.ndarray of int
        For every repeated pitch window, how far back its most recent earlier occurrence starts,
        in notes and in grid steps (16ths).
    whole_bar_share : float
        Share of the repeated pitch windows whose lag in steps is a whole number of bars; NaN when
        nothing repeats.
    """

    windows: int
    pitch_share: float
    pitch_duration_share: float
    lags_notes: np.ndarray
    lags_steps: np.ndarray
    whole_bar_share: float


@dataclass(frozen=True)
class Loops:
    """What :func:`stuck_loops` found: stretches ``(first note, length in notes, period in notes)``
    that repeat a short period, for the pitches and for pitches with durations."""

    pitch: tuple
    pitch_duration: tuple

    @property
    def stuck(self):
        """True when the pitches loop somewhere."""
        return bool(self.pitch)


def notes_from_pitches(pitches, start_step=0, duration_steps=EIGHTH_STEPS):
    """Notes of a melody in the classic encoding: every note an eighth, no rests.

    Parameters
    ----------
    pitches : sequence of int
        MIDI numbers.
    start_step : int
        Onset of the first note, in 16ths.
    duration_steps : int
        Length of every note, in 16ths (2 = eighth notes, as the playground plays them).

    Returns
    -------
    list of (onset_step, duration_steps, pitch)
    """
    return [(start_step + duration_steps * i, duration_steps, int(p)) for i, p in enumerate(pitches)]


def end_step(notes):
    """Grid step (16ths) at which the last note ends; 0 for no notes."""
    return max((onset + duration for onset, duration, _ in notes), default=0)


def _columns(notes):
    array = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    return array[:, 0], array[:, 1], array[:, 2]


def _repeat_lags(keys, first, window):
    """For every window starting at index >= ``first``: how many positions back the most recent
    earlier window with the same keys starts (0 = never seen). One pass with a dictionary."""
    last_seen, lags = {}, []
    for start in range(len(keys) - window + 1):
        key = tuple(keys[start : start + window])
        if start >= first:
            lags.append(start - last_seen[key] if key in last_seen else 0)
        last_seen[key] = start
    return np.asarray(lags, dtype=np.int64)


def self_repetition(notes, window=8, steps_per_bar=STEPS_PER_BAR, context=None):
    """How much of a melody repeats material heard earlier, how far back, and whether a bar apart.

    Parameters
    ----------
    notes : list of (onset_step, duration_steps, pitch)
        The melody measured, e.g. a continuation.
    window : int
        Notes per window.
    steps_per_bar : int
        Grid steps (16ths) in a bar: 16 for 4/4.
    context : list of (onset_step, duration_steps, pitch), optional
        What was heard before ``notes`` (e.g. the seed), on the same time axis: a window of
        ``notes`` repeats when it occurred earlier in ``context`` + ``notes``. Windows of
        ``notes`` only are counted.

    Returns
    -------
    Repetition
    """
    context = list(context or [])
    onsets, durations, pitches = _columns(context + list(notes))
    first = len(context)
    pitch_lags = _repeat_lags(pitches.tolist(), first, window)
    both_lags = _repeat_lags(list(zip(pitches.tolist(), durations.tolist())), first, window)
    windows = len(pitch_lags)
    repeated = np.flatnonzero(pitch_lags)
    starts = first + repeated
    lags_steps = onsets[starts] - onsets[starts - pitch_lags[repeated]]
    return Repetition(
        windows=windows,
        pitch_share=float(np.count_nonzero(pitch_lags) / windows) if windows else 0.0,
        pitch_duration_share=float(np.count_nonzero(both_lags) / windows) if windows else 0.0,
        lags_notes=pitch_lags[repeated],
        lags_steps=lags_steps,
        whole_bar_share=float(np.mean(lags_steps % steps_per_bar == 0)) if len(repeated) else float("nan"),
    )


def _periodic_stretches(keys, max_period, min_notes):
    """Maximal stretches of ``keys`` where every item equals the one ``period`` before, for periods
    1..max_period, at least ``min_notes`` long; a stretch inside a longer or equal one of a shorter
    period (a trill is also periodic in 4) is left out."""
    found = []
    for period in range(1, max_period + 1):
        same = [keys[i] == keys[i - period] for i in range(period, len(keys))] + [False]
        run = 0
        for offset, equal in enumerate(same):
            if equal:
                run += 1
                continue
            if run and run + period >= min_notes:  # the run's first note starts a period earlier
                found.append((offset - run, run + period, period))
            run = 0
    found.sort(key=lambda s: (s[0], -s[1], s[2]))
    kept = []
    for start, length, period in found:
        if not any(s <= start and start + length <= s + n for s, n, _ in kept):
            kept.append((start, length, period))
    return tuple(kept)


def stuck_loops(notes, max_period=4, min_notes=16):
    """Where a melody is stuck repeating a short figure (a trill, an arpeggio played over and over).

    Parameters
    ----------
    notes : list of (onset_step, duration_steps, pitch)
    max_period : int
        Longest figure, in notes, that counts as a loop.
    min_notes : int
        Shortest stretch, in notes, that counts as stuck (the figure included).

    Returns
    -------
    Loops
        Stretches ``(first note index, length in notes, period in notes)``, for the pitches alone
        and for pitches with durations.
    """
    _, durations, pitches = _columns(notes)
    return Loops(
        pitch=_periodic_stretches(pitches.tolist(), max_period, min_notes),
        pitch_duration=_periodic_stretches(list(zip(pitches.tolist(), durations.tolist())), max_period, min_notes),
    )


def _shares(counts):
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total else counts


def pitch_class_histogram(notes):
    """Share of the notes on each pitch class, C first (12 numbers summing to 1; zeros for no notes)."""
    _, _, pitches = _columns(notes)
    return _shares(np.bincount(pitches % 12, minlength=12))


def interval_histogram(notes, max_interval=MAX_INTERVAL):
    """Share of the steps from note to note by signed interval in semitones, clipped to
    ``-max_interval..max_interval`` (``2 * max_interval + 1`` numbers, the first for the largest leap down)."""
    _, _, pitches = _columns(notes)
    intervals = np.clip(np.diff(pitches), -max_interval, max_interval) + max_interval
    return _shares(np.bincount(intervals, minlength=2 * max_interval + 1))


def contour_histogram(notes, max_run=MAX_CONTOUR_RUN):
    """Runs of moves in one direction: share of the runs that go down, stay, go up, for run lengths
    1..max_run (the last counts longer runs too), in that order (``3 * max_run`` numbers)."""
    _, _, pitches = _columns(notes)
    directions = np.sign(np.diff(pitches)) + 1  # 0 down, 1 same, 2 up
    counts = np.zeros((3, max_run))
    start = 0
    for end in range(1, len(directions) + 1):
        if end == len(directions) or directions[end] != directions[start]:
            counts[directions[start], min(end - start, max_run) - 1] += 1
            start = end
    return _shares(counts.ravel())


def _binned(values, upper_edges):
    return _shares(np.bincount(np.searchsorted(upper_edges, values), minlength=len(upper_edges) + 1))


def duration_histogram(notes, upper_edges=DURATION_BINS):
    """Share of the notes by duration, in bins with the given upper edges in 16ths (plus one bin for longer)."""
    _, durations, _ = _columns(notes)
    return _binned(durations, upper_edges)


def rests(notes):
    """Rest before every note but the first, in 16ths (0 when it starts as the previous one ends or earlier)."""
    onsets, durations, _ = _columns(notes)
    return np.maximum(onsets[1:] - (onsets[:-1] + durations[:-1]), 0)


def rest_histogram(notes, upper_edges=REST_BINS):
    """Share of the gaps between notes by rest length, in bins with the given upper edges in 16ths
    (the first, edge 0, is "no rest"), plus one bin for longer."""
    return _binned(rests(notes), upper_edges)


def rest_share(notes):
    """Share of the time from the first onset to the last note's end with no note sounding."""
    if not len(notes):
        return 0.0
    span = end_step(notes) - notes[0][0]
    return float(rests(notes).sum() / span) if span > 0 else 0.0


def notes_per_bar(notes, steps_per_bar=STEPS_PER_BAR):
    """Note density: notes per bar over the melody's span (first onset to last end); 0 for no notes."""
    span = end_step(notes) - notes[0][0] if len(notes) else 0
    return float(len(notes) * steps_per_bar / span) if span > 0 else 0.0


def seed_ngram_share(seed_notes, notes, order=SEED_NGRAM):
    """Share of the ``order``-note pitch sequences of ``notes`` that also occur in the seed."""
    seed = [p for _, _, p in seed_notes]
    known = {tuple(seed[i : i + order]) for i in range(len(seed) - order + 1)}
    pitches = [p for _, _, p in notes]
    grams = [tuple(pitches[i : i + order]) for i in range(len(pitches) - order + 1)]
    return float(np.mean([g in known for g in grams])) if grams else 0.0


def histogram_distance(first, second):
    """Total variation distance between two histograms of shares: 0 (same) to 1 (disjoint)."""
    return float(np.abs(np.asarray(first) - np.asarray(second)).sum() / 2)


def _loop_measures(notes):
    loops = stuck_loops(notes)
    count = max(len(notes), 1)
    loop_notes = sum(n for _, n, _ in loops.pitch)
    longest_short_loop = max((n for _, n, _ in stuck_loops(notes, min_notes=0).pitch), default=0)
    return {"stuck": float(loops.stuck), "loop_note_share": loop_notes / count,
            "longest_loop_share": longest_short_loop / count}


def _repetition_measures(seed_notes, notes, steps_per_bar):
    out = {}
    for window in (4, 8):
        found = self_repetition(notes, window, steps_per_bar, context=seed_notes)
        lag = np.median(found.lags_notes) if len(found.lags_notes) else 0.0
        windows = max(found.windows, 1)
        out.update({f"repeat{window}_pitch": found.pitch_share,
                    f"repeat{window}_pitch_duration": found.pitch_duration_share,
                    f"repeat{window}_whole_bars": np.nan_to_num(found.whole_bar_share),
                    f"repeat{window}_log_median_lag_notes": float(np.log1p(lag)),
                    # where the repeats come from: a loop repeats the last bar, a song its sections
                    f"repeat{window}_within_bar": float(np.sum(found.lags_steps < steps_per_bar) / windows),
                    f"repeat{window}_beyond_4_bars": float(np.sum(found.lags_steps >= 4 * steps_per_bar) / windows)})
    return out


def _labelled(prefix, values, labels):
    return {f"{prefix}_{label}": float(v) for label, v in zip(labels, values)}


def features(seed_notes, continuation_notes, steps_per_bar=STEPS_PER_BAR):
    """The realism classifier's description of a continuation (and how it relates to its seed).

    Parameters
    ----------
    seed_notes, continuation_notes : list of (onset_step, duration_steps, pitch)
        On one time axis, the continuation after the seed; pitches in C major / A minor.
    steps_per_bar : int
        Grid steps (16ths) in a bar.

    Returns
    -------
    (numpy.ndarray, list of str)
        Finite feature values (shares, semitones, notes per bar, log note counts) and their names,
        the same names in the same order for every melody, empty or not.
    """
    notes = list(continuation_notes)
    _, _, pitches = _columns(notes)
    pitch_classes = pitch_class_histogram(notes)
    found = {}
    found.update(_labelled("pc", pitch_classes, ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]))
    found.update(_labelled("interval", interval_histogram(notes), range(-MAX_INTERVAL, MAX_INTERVAL + 1)))
    found.update(_labelled("contour", contour_histogram(notes),
                           [f"{d}{n}" for d in ("down", "same", "up") for n in range(1, MAX_CONTOUR_RUN + 1)]))
    found.update(_labelled("duration_upto", duration_histogram(notes), [*DURATION_BINS, "longer"]))
    found.update(_labelled("rest_upto", rest_histogram(notes), [*REST_BINS, "longer"]))
    found["rest_time_share"] = rest_share(notes)
    found["notes_per_bar"] = notes_per_bar(notes, steps_per_bar)
    found["pitch_range"] = float(np.ptp(pitches)) if len(notes) else 0.0
    found["pitch_mean"] = float(pitches.mean()) if len(notes) else 0.0
    found["pitch_std"] = float(pitches.std()) if len(notes) else 0.0
    found.update(_repetition_measures(seed_notes, notes, steps_per_bar))
    found.update(_loop_measures(notes))
    found["seed_4gram_share"] = seed_ngram_share(seed_notes, notes)
    seed_classes = pitch_class_histogram(seed_notes)
    found["seed_pc_distance"] = histogram_distance(seed_classes, pitch_classes) if len(notes) else 0.0
    names = list(found)
    return np.nan_to_num(np.array([found[n] for n in names], dtype=np.float64)), names
