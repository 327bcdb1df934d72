"""shipsync.streams: several paged reads drained at once into one stream."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
from shipsync.streams import merge, prefetch


def pages(name: str, count: int) -> Iterator[str]:
    for i in range(count):
        yield f"{name}{i}"


def test_merge_yields_every_item_once_each_source_in_its_own_order() -> None:
    got = list(merge([pages("a", 50), pages("b", 7), pages("c", 0)]))
    assert sorted(got) == sorted([f"a{i}" for i in range(50)] + [f"b{i}" for i in range(7)])
    assert [x for x in got if x[0] == "a"] == [f"a{i}" for i in range(50)]
    assert [x for x in got if x[0] == "b"] == [f"b{i}" for i in range(7)]


def test_merge_reads_the_sources_at_the_same_time() -> None:
    # Each source waits for the other to have started: read one after the other, the
    # first would wait forever (here: 5 s, then fail).
    started = {"a": threading.Event(), "b": threading.Event()}

    def source(me: str, other: str) -> Iterator[str]:
        started[me].set()
        if not started[other].wait(5):
            raise AssertionError(f"{other} was not read while {me} was")
        yield me

    assert sorted(merge([source("a", "b"), source("b", "a")])) == ["a", "b"]


def test_an_error_in_one_source_reaches_the_consumer() -> None:
    def broken() -> Iterator[str]:
        yield "fine"
        raise ValueError("page 2 is malformed")

    with pytest.raises(ValueError, match="page 2 is malformed"):
        list(merge([broken(), pages("a", 3)]))


def test_closing_the_stream_early_stops_the_readers() -> None:
    produced: list[int] = []
    stopped = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            stopped.set()

    stream = prefetch(endless(), depth=1)
    assert next(stream) == 0
    stream.close()
    # The reader holds at most the queue's depth plus the item it is trying to hand over.
    assert stopped.wait(5), "the reader did not stop"
    assert len(produced) <= 4


def test_prefetch_of_nothing_is_nothing() -> None:
    assert list(prefetch(iter([]))) == []
    assert list(merge([])) == []
