"""The repetition guard: keeps a sampled melody from getting stuck in a short loop.

Sharp sampling rules (the write-up's softmax base beta = 15, low temperatures) and a strong song
memory feed on themselves: once a melody plays C D C D, the likeliest next note is C again, forever.
The guard looks at each melody's last notes (their pitches; rests do not count) and, when they have
repeated a short period for as long as real songs do at most, takes the note that would go on
repeating it out of the choice (a mere penalty is not enough: with beta = 15 any note that keeps a
little more probability than the others still wins). Real phrase repetition is left alone: it
repeats longer periods (a bar or a phrase, 5 notes and more) a few times, and the guard only steps in
at the 5th copy in a row of a motif of up to 8 notes, or the 4th of a phrase of up to 16 (what the
write-up's beta = 15 otherwise plays for ever).
"""
import numpy as np

from .kernels import watch_add

SHORT_PERIOD = 4  # periods of up to this many notes are a loop (a trill, a repeated note, a turn) ...
SHORT_LOOP_NOTES = 15  # ... once they have gone on for this many notes (the 16th would make it "stuck")
LONG_PERIOD = 16  # longer periods, up to this, are phrases, allowed a few copies in a row:
LONG_COPIES = 4  # up to 8 notes long, 4 copies (a motif played four times is common) ...
PHRASE_COPIES = 3  # ... longer ones 3 (a phrase, its repeat, and once more; a 4th in a row is a drone)
PENALTY = 0.0  # the share of its probability left to the note that would go on looping
WINDOW = LONG_PERIOD * (PHRASE_COPIES + 1)
SILENT_BARS = 2  # a melody may rest this long in a row; then it must play (a song's final silence is not a continuation)
PERIODS = np.arange(1, LONG_PERIOD + 1)
# The notes a loop of each period may go on for (the period's own first copy included).
LIMITS = np.where(PERIODS <= SHORT_PERIOD, SHORT_LOOP_NOTES,
                  PERIODS * np.where(PERIODS <= LONG_PERIOD // 2, LONG_COPIES, PHRASE_COPIES))
_RUN_LIMITS = LIMITS - PERIODS  # the notes after a period's first copy that may repeat it


def trailing_runs(recent):
    """``[melodies, periods]``: for each period of 1 to ``LONG_PERIOD`` notes, how many of the last
    notes of ``recent`` (``[melodies, WINDOW]``, oldest first, -1 where there are fewer) equal the note a period before them."""
    runs = np.zeros((len(recent), len(PERIODS)), dtype=np.int64)
    for column, period in enumerate(PERIODS):
        same = (recent[:, period:] == recent[:, :-period]) & (recent[:, :-period] >= 0)
        backwards = same[:, ::-1]
        runs[:, column] = np.where(backwards.all(1), backwards.shape[1], backwards.argmin(1))
    return runs


def _looping(recent, runs):
    """For each melody, the pitch that would extend a loop past what the guard allows, or -1, from
    ``recent`` and its :func:`trailing_runs`: the shortest period that has repeated for too long decides."""
    hit = runs >= _RUN_LIMITS
    period = PERIODS[hit.argmax(1)]
    return np.where(hit.any(1), recent[np.arange(len(recent)), -period], -1)


class LoopWatch:
    """The last pitches of a batch of melodies and what the guard makes of them, kept up to date
    note by note: each note updates the trailing runs of every period instead of scanning the whole
    window again. ``looping`` is always what a new ``LoopWatch(recent)`` would find."""

    def __init__(self, recent):
        self.recent = np.ascontiguousarray(recent, dtype=np.int64)
        self.runs = trailing_runs(self.recent)
        self.looping = _looping(self.recent, self.runs)
        self.longest = self.recent.shape[1] - PERIODS  # the most notes of the window that can repeat each period

    def add(self, pitches):
        """Append each melody's new pitch (-1: a rest, which changes nothing): the note a period back
        that equals it extends that period's run, and ``looping`` follows (``kernels.watch_add``)."""
        watch_add(self.recent, self.runs, self.looping, np.asarray(pitches, dtype=np.int64), self.longest,
                  _RUN_LIMITS)

    def reorder(self, indices):
        self.recent, self.runs, self.looping = self.recent[indices], self.runs[indices], self.looping[indices]


def recent_array(histories):
    """``[melodies, WINDOW]`` of the last pitches of each list, oldest first, -1 where there are fewer."""
    out = np.full((len(histories), WINDOW), -1)
    for row, pitches in enumerate(histories):
        tail = list(pitches)[-WINDOW:]
        if tail:
            out[row, WINDOW - len(tail):] = tail
    return out


def guard_looping(probs, looping, pitch_of_token, penalty=PENALTY):
    """``probs`` ``[melodies, vocab]`` with the tokens of each melody's looping pitch (-1: none; see
    :class:`LoopWatch`) scaled by ``penalty`` and renormalised; ``probs`` itself when none loops."""
    if (looping < 0).all():
        return probs
    probs = probs.copy()
    for row in np.flatnonzero(looping >= 0):
        kept = probs[row].copy()
        probs[row, pitch_of_token == looping[row]] *= penalty
        total = probs[row].sum()
        probs[row] = probs[row] / total if total > 0 else kept  # nothing else possible: leave it
    return probs


def silence_guard(probs, silent_steps, rest_tokens, limit):
    """``probs`` with the rest tokens taken out of the choice for every melody that has already rested
    ``limit`` steps in a row (``silent_steps``, one per melody); ``probs`` itself when none has."""
    stuck = np.asarray(silent_steps) >= limit
    if not stuck.any():
        return probs
    probs = probs.copy()
    playing = probs[stuck][:, ~rest_tokens]
    totals = playing.sum(1, keepdims=True)
    probs[np.ix_(stuck, ~rest_tokens)] = np.where(totals > 0, playing / np.maximum(totals, 1e-300), 1.0 / playing.shape[1])
    probs[np.ix_(stuck, rest_tokens)] = 0.0
    return probs
