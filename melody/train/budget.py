"""Work within a time budget: songs taken a chunk at a time until a deadline, under a progress bar.

``train.py --minutes`` bounds everything after the data is read: the training steps, each
validation and the fitting at the end. A phase that would not fit works on the songs it reached by
its deadline (songs come in a fixed order, so that is a fair sample) and says how many it used.
Deadlines are ``time.monotonic()`` values; ``None`` means no limit.
"""
import time

from tqdm.auto import tqdm

CHUNK_SONGS = 64  # within a chunk, songs are batched by length (see evaluation.token_log_probs)


def deadline_in(seconds):
    """The deadline ``seconds`` from now (``None`` for no limit)."""
    return None if seconds is None else time.monotonic() + max(0.0, seconds)


def share_of(deadline, fraction):
    """A deadline ``fraction`` of the way from now to ``deadline`` (``None`` stays ``None``)."""
    return None if deadline is None else deadline_in(fraction * (deadline - time.monotonic()))


def in_time(items, work, deadline=None, desc=None, progress=False, chunk=CHUNK_SONGS):
    """``work(chunk of items)`` on ``items`` in order, a chunk at a time, until ``deadline`` passes
    (the first chunk always runs), counting the items on a progress bar (``desc``; none unless
    ``progress``). Under a deadline the chunks grow from one item (1, 2, 4 ... up to ``chunk``), so
    that a slow phase stops close to it.

    Returns
    -------
    (results, done) : (list of what ``work`` returned for each chunk, number of items done)
    """
    items = list(items)
    results, done, size = [], 0, chunk if deadline is None else 1
    with tqdm(total=len(items), desc=desc, unit="song", disable=not progress, leave=False, dynamic_ncols=True) as bar:
        while done < len(items) and not (done and deadline is not None and time.monotonic() >= deadline):
            part = items[done : done + size]
            results.append(work(part))
            done += len(part)
            bar.update(len(part))
            size = min(2 * size, chunk)
    return results, done


def sample_note(what, done, total):
    """``"<what>: 12 of 100 songs"``, for the line that says which phases used a sample."""
    return f"{what}: {done} of {total} songs"
