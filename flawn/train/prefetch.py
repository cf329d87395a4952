"""Batches prepared ahead of the train step, on a background thread.

The host's share of a step (the next batch from ``tf.data``, counting its
examples, the copy to the devices) runs on a thread that keeps a few batches
ready in a bounded queue, so the accelerator never waits for the host between
steps. One thread reads the batch iterator, in order, so the batches (and a
resumed run's) are exactly those of a loop without it.

Shutdown is clean in every case: :meth:`Prefetcher.close` (also on leaving a
``with`` block after an exception) stops the thread and drains the queue; the
thread is a daemon, so a process that exits while it is blocked inside
``tf.data`` does not hang on it; an error raised while reading (a bad record)
reaches the training loop at the batch where it happened.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: How long the thread waits on a full queue before checking for a stop request.
_POLL_S = 0.1
#: How long :meth:`Prefetcher.close` waits for the thread to finish.
_JOIN_S = 5.0


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A batch ready for the step.

    Attributes:
        batch: The batch as placed on the devices.
        stats: What the host counted on the batch before placing it (examples, tokens).
    """

    batch: Any
    stats: dict[str, int]


@dataclasses.dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


class Prefetcher:
    """Iterates over prepared batches, reading ``size`` batches ahead on a thread.

    Args:
        batches: The host batches (numpy dicts), read only by the thread.
        place: Puts a host batch on the devices (e.g. ``jax.device_put`` with
            the batch sharding); called on the thread so the copy overlaps the step.
        stats: Counts things on a host batch (read before it is placed).
        size: Batches kept ready. ``0`` reads and places each batch in the
            caller's thread when it is asked for (no thread; for debugging and
            to measure what prefetching buys).
    """

    def __init__(
        self,
        batches: Iterator[dict[str, Any]],
        place: Callable[[dict[str, Any]], Any],
        stats: Callable[[dict[str, Any]], dict[str, int]],
        size: int = 2,
    ):
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self._batches, self._place, self._stats = batches, place, stats
        self._size = size
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(size, 1))
        self._thread: threading.Thread | None = None
        if size:
            self._thread = threading.Thread(target=self._run, name="flawn-prefetch", daemon=True)
            self._thread.start()

    def _prepare(self, host_batch: dict[str, Any]) -> Prepared:
        return Prepared(self._place(host_batch), self._stats(host_batch))

    def _put(self, item) -> bool:
        """Queues ``item`` unless a stop is requested first; returns whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for host_batch in self._batches:
                if not self._put(self._prepare(host_batch)):
                    return
            self._put(_END)
        except BaseException as err:  # re-raised in the consumer's thread
            self._put(_Failed(err))

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Prepared:
        if self._thread is None:
            return self._prepare(next(self._batches))
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the prefetch thread stopped without a batch") from None
        if item is _END:
            self._queue.put(_END)  # later calls end too
            raise StopIteration
        if isinstance(item, _Failed):
            self._queue.put(item)
            raise item.error
        return item

    def close(self) -> None:
        """Stops the thread, drops the batches read ahead, and closes the batch iterator."""
        self._stop.set()
        if self._thread is not None:
            while True:  # unblocks a thread waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=_JOIN_S)
            if self._thread.is_alive():
                # Blocked inside the iterator (tf.data); as a daemon it dies with the process.
                return
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
