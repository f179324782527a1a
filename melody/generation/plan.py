"""The form plan at work: which earlier bar each melody of a batch restates, decided a bar at a time
from the plan's numbers (fitted on the training songs: ``melody.model.form``)."""
import numpy as np

from ..model.form import MAX_LAG_BARS, PHRASE_BARS, keep_index, parse, plan_numbers
from .kernels import any_bar_ahead


class BatchPlan:
    """The plan of every melody of a batch: the lag each one restates in its current bar.

    Parameters
    ----------
    vector : array of ``SIZE``
        From :func:`fit_plan` (the checkpoint's ``form_plan``).
    rows : int
    steps_per_bar, first_bar : int
        The bar grid: bars start at ``first_bar`` (the melody's first bar) every ``steps_per_bar``.
    rng : numpy.random.Generator
    """

    def __init__(self, vector, rows, steps_per_bar, first_bar, rng):
        self.start, self.keep, self.preference, self.top, self.copy = plan_numbers(vector)
        self.bar, self.first_bar, self.rng = steps_per_bar, first_bar, rng
        self.lag = np.zeros(rows, dtype=np.int64)
        self.run = np.zeros(rows, dtype=np.int64)
        self.current = np.full(rows, -1, dtype=np.int64)  # the bar each row's plan was last decided for

    def follow(self, contents, whole_bars):
        """Take the plan of a seed that has been played: the parse of its first ``whole_bars`` bars
        (``bar_contents``; the bars it has played to the end), for every row."""
        bars = (list(contents) + [()] * whole_bars)[:whole_bars]
        lag = run = 0
        for b, found in enumerate(parse(bars)):
            run = run + 1 if found and b and found == lag else int(bool(found))
            lag = found
        self.lag[:], self.run[:] = lag, run
        self.current[:] = whole_bars - 1

    def decide(self, onsets):
        """Decide the plan of every row whose next onset (``onsets``) lies in a bar not yet planned."""
        onsets = np.asarray(onsets, dtype=np.int64)
        if not any_bar_ahead(self.current, onsets, self.first_bar, self.bar):
            return  # the usual step: every row is still in the bar it has planned
        bars = (onsets - self.first_bar) // self.bar
        while True:
            behind = np.flatnonzero(self.current < bars)
            if not len(behind):
                return
            self.current[behind] += 1
            for row in behind:
                self._next_bar(row, int(self.current[row]))

    def _next_bar(self, row, bar):
        phrase = int(bar % PHRASE_BARS != 0)
        if self.lag[row] and bar - self.lag[row] >= 0:
            if self.rng.random() < self.keep[keep_index(self.lag[row], phrase, self.run[row])]:
                self.run[row] += 1
                return
        self.lag[row] = self.run[row] = 0
        if bar < 1 or self.rng.random() >= self.start[phrase]:
            return
        lags = min(bar - 1, MAX_LAG_BARS)
        preference = np.append(self.preference[1 : lags + 1], self.top)
        total = preference.sum()
        if total <= 0:
            return
        # rng.choice(lags + 1, p=preference / total), as numpy draws it, without its checks
        cumulative = (preference / total).cumsum()
        cumulative /= cumulative[-1]
        choice = int(cumulative.searchsorted(self.rng.random(), side="right"))
        self.lag[row] = bar if choice == lags else 1 + choice  # the last: back to the top
        self.run[row] = 1

    def lags_in_steps(self):
        """Each row's planned lag in grid steps (0: new material)."""
        return self.lag * self.bar

    def reorder(self, indices):
        self.lag, self.run, self.current = self.lag[indices], self.run[indices], self.current[indices]
