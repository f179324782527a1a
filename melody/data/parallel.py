"""One function over many files on all cores, with a progress bar weighted by work and a clean stop:
on Ctrl-C or SIGTERM the workers are ended (never left running) and the caller is told which
signal stopped the run, after every result that was finished has been handed over."""
import multiprocessing
import os

from tqdm.auto import tqdm

from .stopping import StopRequest, worker_signals

MIN_JOBS_FOR_POOL = 8  # fewer jobs run in this process: starting workers would cost more
POLL_SECONDS = 0.2  # how often the main process checks for a stop request while workers run


def run_jobs(function, jobs, on_result, workers=None, progress=True, description=""):
    """Call ``function(job)`` for every job, and ``on_result(key, result)`` here as each one ends.

    Parameters
    ----------
    function : callable
        A module-level function (workers receive it by name).
    jobs : list of (key, job, size)
        ``size`` is the job's share of the work (e.g. bytes of its file): the progress bar counts it,
        so that its rate and time left stay right when jobs differ a thousandfold. Workers take the
        largest jobs first, so that no big one starts last and keeps one core busy alone.
    on_result : callable
        ``on_result(key, result)``, called in this process, in the order jobs finish.
    workers : int, optional
        Processes to use; default all cores. With one, or fewer than ``MIN_JOBS_FOR_POOL`` jobs,
        everything runs in this process.
    progress : bool
    description : str
        The progress bar's label.

    Returns
    -------
    int or None
        The signal that stopped the run (``signal.SIGINT`` or ``signal.SIGTERM``), or None when every
        job finished. A job that was running when the signal came is lost.
    """
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = tqdm(total=sum(size for _, _, size in jobs), desc=description, unit="B", unit_scale=True,
               unit_divisor=1024, disable=not (progress and jobs), leave=False, dynamic_ncols=True)
    with StopRequest() as stop, bar:
        if workers == 1 or len(jobs) < MIN_JOBS_FOR_POOL:
            for key, job, size in jobs:
                if stop.requested:
                    break
                on_result(key, function(job))
                bar.update(size)
        else:
            _run_in_pool(function, jobs, on_result, workers, bar, stop)
    return stop.signum if stop.requested else None


def _call(task):
    """Run in a worker: one job, returned with its key and size."""
    function, key, size, job = task
    return key, size, function(job)


def _run_in_pool(function, jobs, on_result, workers, bar, stop):
    tasks = [(function, key, size, job) for key, job, size in sorted(jobs, key=lambda j: -j[2])]
    pool = multiprocessing.Pool(workers, initializer=worker_signals)
    try:
        results = pool.imap_unordered(_call, tasks)
        for _ in tasks:
            found = _next_result(results, stop)
            if found is None:
                return
            key, size, result = found
            on_result(key, result)
            bar.update(size)
    finally:
        pool.terminate()  # ends the workers at once (SIGTERM): idle ones after a full run, busy ones on a stop
        pool.join()


def _next_result(results, stop):
    """The next finished job's ``(key, size, result)``, or None once a stop is requested."""
    while not stop.requested:
        try:
            return results.next(timeout=POLL_SECONDS)
        except multiprocessing.TimeoutError:
            continue
    return None
