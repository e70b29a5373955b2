"""The one worker pool of collection, evaluation and DAgger: results in unit order.

    for result in ordered_results(units, make_worker, workers): ...

`make_worker` is a picklable `() -> worker`; a worker is a callable `unit -> result`, built once
per process and reused for every unit that process runs. workers=1 runs in this process (and
calls the worker's close(), if it has one, at the end); otherwise `workers` spawned processes
(no fork of a live PyBullet client or of torch's threads). Results come back in unit order
whatever the number of workers, so a run's output does not depend on it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_worker: Callable[[Any], Any] | None = None  # this process's worker (spawned processes)


def _start(make_worker: Callable[[], Callable[[Any], Any]]) -> None:
    global _worker
    _worker = make_worker()


def _run(unit):
    return _worker(unit)


def ordered_results(units: Sequence, make_worker: Callable[[], Callable[[Any], Any]],
                    workers: int) -> Iterator:
    """worker(unit) for every unit, in order, from this process or `workers` processes."""
    if not units:
        return
    workers = min(workers, len(units))
    if workers == 1:
        worker = make_worker()
        try:
            for unit in units:
                yield worker(unit)
        finally:
            close = getattr(worker, "close", None)
            if close is not None:
                close()
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, _start, (make_worker,)) as pool:
        yield from pool.imap(_run, units, chunksize=1)
