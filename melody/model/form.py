"""The form plan: which earlier bars a melody restates, decided a bar at a time.

Real game and pop melodies are built of sections that come back: in the Pokémon songs about 45% of
8-note windows repeat earlier material, typically some twenty bars back, and almost always a whole
number of bars back. A note-by-note model (even with the song memory and the bar echo, which react
to what has already matched) restates at short distances: it never *decides* to bring back the
phrase of sixteen bars ago.

The plan makes that decision at every bar line. Its state is the lag (in bars) of the bar being
restated, or 0 for new material. Parsed from real songs (each bar compared with the earlier ones;
an exact repeat of a whole bar is a restatement, and a restatement keeps its lag for as long as it
goes on matching, like an LZ77 parse of the bars), the plan learns:

- how often a restatement starts, at a phrase start (every fourth bar) and elsewhere;
- how long it goes on: the chance of one more bar, by its lag, bars restated so far and phrase
  position (a motif repeated a bar later goes on for a bar or two, a section for eight or more);
- which lag it takes: a preference for each lag of 1 to ``MAX_LAG_BARS`` bars, and one for going
  back to the top (the melody's first bar, however far: an eighth of restatements in game music),
  each counted against the number of times it was possible (a lag of 24 bars cannot be chosen in
  bar 10).

While a bar is planned as a restatement of lag L, the token that started L bars before the next
onset is proposed with the weight ``copy`` (the rest of the model keeps the remainder, so a
restatement can vary, and a long note across a bar line simply leaves the proposal out until the
onsets meet again). The plan's numbers are a flat vector stored in the checkpoint
(``MelodyLSTM.form_plan``); all zeros (checkpoints from before the plan) turn it off.
"""
from bisect import bisect_right
from typing import NamedTuple

import numpy as np

MAX_LAG_BARS = 64
PHRASE_BARS = 4
RUN_BUCKETS = (1, 2, 3, 4, 8, 16)  # lower edges of bars restated so far
LAG_CLASSES = (1, 2, 4, 8, 16)  # lower edges of lags: a near restatement is short, a section's is long
COPY_WEIGHT = 0.9  # the proposal's share while a bar is planned as a restatement
# The vector: [start at a phrase start, start elsewhere, keep (lag class x phrase start x run bucket) ...,
# lag preferences 0 .. MAX_LAG_BARS, from the top, copy weight]
_START, _KEEP = 0, 2
_KEEP_SHAPE = (len(LAG_CLASSES), 2, len(RUN_BUCKETS))
_LAGS = _KEEP + int(np.prod(_KEEP_SHAPE))
_TOP = _LAGS + MAX_LAG_BARS + 1
_COPY = _TOP + 1
SIZE = _COPY + 1


class PlanNumbers(NamedTuple):
    """The plan's vector (see the module) read into its parts."""

    start: np.ndarray  # the chance a restatement starts: at a phrase start, elsewhere
    keep: np.ndarray  # the chance one goes on: [lag class, phrase start, run bucket] (see keep_index)
    preference: np.ndarray  # of each lag, 0 .. MAX_LAG_BARS bars (0: unused)
    top: float  # of going back to the melody's first bar
    copy: float  # the restated token's share while a bar is planned as a restatement


def plan_numbers(vector):
    """:class:`PlanNumbers` of a plan's vector (``fit_plan``, the checkpoint's ``form_plan``)."""
    vector = np.asarray(vector, dtype=np.float64)
    return PlanNumbers(vector[_START:_KEEP], vector[_KEEP:_LAGS].reshape(_KEEP_SHAPE), vector[_LAGS:_TOP],
                       float(vector[_TOP]), float(vector[_COPY]))


def bar_contents(tokens, onsets, steps_per_bar, bar_offset=0):
    """What starts in each bar of a melody: a tuple of ``(step in the bar, token)`` per bar, from the
    bar of the first token to the bar of the last one."""
    if not len(tokens):
        return []
    onsets = np.asarray(onsets, dtype=np.int64)
    first = int(onsets[0] - (onsets[0] - bar_offset) % steps_per_bar)
    bars = (onsets - first) // steps_per_bar
    contents = [[] for _ in range(int(bars[-1]) + 1)]
    for token, onset, bar in zip(tokens, onsets, bars):
        contents[bar].append((int(onset - first - bar * steps_per_bar), int(token)))
    return [tuple(c) for c in contents]


def keep_index(lag, phrase, run):
    """The index of the chance a restatement of ``lag`` bars, ``run`` bars under way, goes on."""
    return bisect_right(LAG_CLASSES, lag) - 1, phrase, bisect_right(RUN_BUCKETS, run) - 1


def parse(contents, max_lag=MAX_LAG_BARS):
    """The lag (in bars, 0 = new material) of every bar, parsed greedily: a restatement goes on while
    its bars match; a new one starts where a bar repeats an earlier one, at the lag whose match goes
    on longest (the nearest of equals)."""
    lags, lag = [0] * len(contents), 0
    for b, bar in enumerate(contents):
        if lag and contents[b - lag] == bar:
            lags[b] = lag
            continue
        lag, best = 0, 0
        if bar:
            for candidate in range(1, min(b, max_lag) + 1):
                run = 0
                while b + run < len(contents) and contents[b + run] == contents[b + run - candidate]:
                    run += 1
                if run > best:
                    lag, best = candidate, run
        lags[b] = lag
    return lags


def fit_plan(songs_contents, copy=COPY_WEIGHT, prior=2.0):
    """The plan's vector (see the module) from the bar contents of real songs (``bar_contents``).

    Each chance is counted with a small prior (``prior`` observations at the overall rate), so that a
    rare case (a restatement of 16+ bars at a phrase start) keeps a sensible value."""
    starts, start_tries = np.zeros(2), np.zeros(2)
    keeps, keep_tries = np.zeros(_KEEP_SHAPE), np.zeros(_KEEP_SHAPE)
    chosen, possible = np.zeros(MAX_LAG_BARS + 1), np.zeros(MAX_LAG_BARS + 1)
    top = 0
    for contents in songs_contents:
        lags = parse(contents)
        run = 0
        for b in range(1, len(contents)):
            phrase = int(b % PHRASE_BARS != 0)  # 0: a phrase start
            if run:  # a restatement was under way: did it go on?
                where = keep_index(lags[b - 1], phrase, run)
                keep_tries[where] += 1
                if lags[b] == lags[b - 1]:
                    keeps[where] += 1
                    run += 1
                    continue
            run = 0
            if not contents[b]:
                continue  # a restatement never starts in a bar where nothing starts
            start_tries[phrase] += 1
            possible[1 : min(b - 1, MAX_LAG_BARS) + 1] += 1
            if lags[b]:
                starts[phrase] += 1
                if lags[b] == b:
                    top += 1
                else:
                    chosen[lags[b]] += 1
                run = 1
    vector = np.zeros(SIZE)
    start_rate = starts.sum() / max(start_tries.sum(), 1)
    vector[_START:_KEEP] = (starts + prior * start_rate) / (start_tries + prior)
    keep_rate = keeps.sum() / max(keep_tries.sum(), 1)
    vector[_KEEP:_LAGS] = ((keeps + prior * keep_rate) / (keep_tries + prior)).ravel()
    lag_rate = chosen.sum() / max(possible.sum(), 1)
    preference = (chosen + prior * lag_rate) / (possible + prior)
    preference[0] = 0.0
    vector[_LAGS:_TOP] = preference
    vector[_TOP] = (top + prior * lag_rate) / (start_tries.sum() + prior)
    vector[_COPY] = copy
    return vector


def melody_contents(melody, config):
    """``bar_contents`` of a ``Melody`` (its tokens, rests included, on its bar grid)."""
    _, steps = config.token_table()
    tokens = np.asarray(melody.tokens, dtype=np.int64)
    onsets = melody.start_step + np.r_[0, np.cumsum(steps[tokens])[:-1]] if len(tokens) else tokens
    return bar_contents(tokens, onsets, melody.steps_per_bar, melody.bar_offset)
