"""Reading pages ahead: iterators drained by background threads into one stream.

Sources read paged lists; while the engine maps and writes one page, the next
can already be on its way. ``merge`` drains several iterators at once (one
reader thread each) and yields their items as they arrive; ``prefetch`` is the
one-iterator case. Both hold at most ``depth`` items per reader: memory stays
bounded however long the lists are. Closing the stream early (``break``, an
exception in the consumer) stops the readers at their next item.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

__all__ = ["merge", "prefetch"]

T = TypeVar("T")

_ITEM, _END, _ERROR = "item", "end", "error"


def merge(sources: Iterable[Iterator[T]], depth: int = 1) -> Iterator[T]:
    """Items of every iterator, read concurrently, in the order they arrive.

    An exception raised by any iterator is re-raised to the consumer (the
    others are then abandoned); each iterator's own order is kept.
    """
    iterators = list(sources)
    if not iterators:
        return
    box: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(1, depth) * len(iterators))
    done = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not done.is_set():
            try:
                box.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader(iterator: Iterator[T]) -> None:
        try:
            for item in iterator:
                if not put(_ITEM, item):
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()  # the consumer left: let the source clean up now
                    return
            put(_END, None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_ERROR, exc)

    threads = [threading.Thread(target=reader, args=(it,), name=f"read-ahead-{i}", daemon=True)
               for i, it in enumerate(iterators)]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            kind, value = box.get()
            if kind == _END:
                running -= 1
            elif kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            else:
                yield value  # type: ignore[misc]
    finally:
        done.set()


def prefetch(pages: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Read the next page in the background while the current one is handled."""
    return merge([pages], depth)
