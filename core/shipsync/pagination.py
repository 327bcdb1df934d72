"""Reading a paged list: by page number, by keyset (``min_id``) or by offset; never in a loop.

Every list call of every plugin goes through ``paginate``: the plugin says how to
fetch one page (``fetch(cursor) -> Page``) and how the list is paged (a
``Strategy``); the paginator walks the pages, hands each one's new rows on, and
stops where the strategy says the list ends.

A page whose rows were all seen already (a proxy or cache answering the same
page again, a server ignoring the page parameter) is asked again a few times,
then the read fails with an error naming the list: it never loops forever, and
it never skips ahead past rows it has not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .http import TransportError

__all__ = ["Keyset", "Offsets", "Page", "PageNumbers", "PaginationError", "Strategy",
           "paginate"]

Row = TypeVar("Row")
C = TypeVar("C")

MAX_REPEATS = 3  # a page answered again more often than this fails the read


class PaginationError(TransportError):
    """A list kept answering a page it had answered before."""


@dataclass
class Page(Generic[Row]):
    """One page as fetched: its rows, and the page count when the API tells it."""

    rows: list[Row]
    total_pages: int | None = None


class Strategy(Protocol[C, Row]):
    """How a list is paged: the first cursor, the next one, whether a row is new, the end."""

    first: C

    def identity(self, row: Row) -> Hashable: ...
    def fresh(self, rows: list[Row], cursor: C, seen: set[Hashable]) -> list[Row]: ...
    def after(self, rows: list[Row], cursor: C) -> C: ...
    def last(self, page: Page[Row], cursor: C, next_cursor: C) -> bool: ...


@dataclass
class PageNumbers(Generic[Row]):
    """``page=1, 2, …``: ends at ``total_pages`` when told, else at a page short of ``limit``."""

    limit: int
    key: Callable[[Row], Hashable]
    first: int = 1

    def identity(self, row: Row) -> Hashable:
        return self.key(row)

    def fresh(self, rows: list[Row], cursor: int, seen: set[Hashable]) -> list[Row]:
        return [row for row in rows if self.key(row) not in seen]

    def after(self, rows: list[Row], cursor: int) -> int:
        return cursor + 1

    def last(self, page: Page[Row], cursor: int, next_cursor: int) -> bool:
        if page.total_pages is not None:
            return cursor >= page.total_pages or not page.rows
        return len(page.rows) < self.limit


@dataclass
class Offsets(Generic[Row]):
    """``offset=0, limit, 2·limit, …``: ends at a page short of ``limit``."""

    limit: int
    key: Callable[[Row], Hashable]
    first: int = 0

    def identity(self, row: Row) -> Hashable:
        return self.key(row)

    def fresh(self, rows: list[Row], cursor: int, seen: set[Hashable]) -> list[Row]:
        return [row for row in rows if self.key(row) not in seen]

    def after(self, rows: list[Row], cursor: int) -> int:
        return cursor + len(rows)

    def last(self, page: Page[Row], cursor: int, next_cursor: int) -> bool:
        return len(page.rows) < self.limit


@dataclass
class Keyset(Generic[Row]):
    """``min_id=N`` on a list sorted by ascending id: the next page starts after the last id.

    A row that changes while the list is read cannot shift another out of sight,
    as it can with page numbers. ``last_id`` ends the read at an id (a range).
    """

    limit: int
    key: Callable[[Row], int]
    first: int = 0
    last_id: int | None = None

    def identity(self, row: Row) -> Hashable:
        return self.key(row)

    def fresh(self, rows: list[Row], cursor: int, seen: set[Hashable]) -> list[Row]:
        return [row for row in rows if self.key(row) >= cursor]

    def after(self, rows: list[Row], cursor: int) -> int:
        return max(self.key(row) for row in rows) + 1

    def last(self, page: Page[Row], cursor: int, next_cursor: int) -> bool:
        return len(page.rows) < self.limit or (self.last_id is not None
                                               and next_cursor > self.last_id)


def paginate(fetch: Callable[[C], Page[Row]], strategy: Strategy[C, Row], *, name: str,
             max_repeats: int = MAX_REPEATS) -> Iterator[list[Row]]:
    """The new rows of each page of a list, a page at a time, until the list ends.

    ``fetch(cursor)`` reads one page; ``name`` (e.g. ``bigcommerce GET /v2/orders``)
    is what an error says. Empty pages are not yielded.
    """
    cursor = strategy.first
    seen: set[Hashable] = set()
    repeats = 0
    while True:
        page = fetch(cursor)
        rows = strategy.fresh(page.rows, cursor, seen)
        if page.rows and not rows:
            repeats += 1
            if repeats > max_repeats:
                raise PaginationError(f"{name}: the list answered a page it had already "
                                      f"answered, {repeats} times in a row (at {cursor!r}); "
                                      "stopped rather than skip or loop")
            continue
        repeats = 0
        seen.update(strategy.identity(row) for row in rows)
        if rows:
            yield rows
        next_cursor = strategy.after(rows, cursor) if rows else cursor
        if not page.rows or strategy.last(page, cursor, next_cursor):
            return
        cursor = next_cursor
