"""Reading a paged list: by page number, by keyset (``min_id``) or by offset; never in a loop.

Every list call of every plugin goes through ``paginate``: the plugin says how to
fetch one page (``fetch(cursor) -> Page``) and how the list is paged (a
``Strategy``); the paginator walks the pages, hands each one's new rows on, and
stops where the strategy says the list ends.

``paginate_changes`` reads a list of another kind: filtered by a ``since`` time
and sorted by each row's change time, oldest or newest first (the API does not
say which), whose rows move to the newest end when they change while it is read.
Oldest first, it is read as a keyset on the change time (no page numbers, so a
row that moves hides no other); newest first, by page numbers, then its newest
pages again for the rows that moved there during the read.

A page whose rows were all seen already (a proxy or cache answering the same
page again, a server ignoring the page parameter) is asked again a few times,
then the read fails with an error naming the list: it never loops forever, and
it never skips ahead past rows it has not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from .http import TransportError

__all__ = ["Keyset", "Offsets", "Page", "PageNumbers", "PaginationError", "Strategy",
           "paginate", "paginate_changes"]

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


#: Requests one ``paginate_changes`` read may make: a list that never ends is an error.
MAX_CHANGE_PAGES = 100_000


def paginate_changes(fetch: Callable[[str, int], Page[Row]], *, since: str, limit: int,
                     key: Callable[[Row], Hashable], name: str,
                     changed: Callable[[Row], datetime | None] | None = None,
                     since_of: Callable[[Row], str] | None = None,
                     max_repeats: int = MAX_REPEATS) -> Iterator[list[Row]]:
    """The rows of a list of changes since ``since``, a page at a time, none missed.

    ``fetch(since, page)`` reads one page (``page`` counts from 1). When rows show
    the time the list is sorted by, ``changed(row)`` gives it (comparable between
    rows) and ``since_of(row)`` the ``since`` value that starts a read at that row,
    no later than it, in the API's own notation: a list sorted oldest first is then
    read as a keyset on that time. Otherwise (or newest first) it is read by page
    numbers, then its first pages again until they bring nothing that moved there.
    A row is handed on again only when its change time moved.

    Every row whose time is at least ``since`` when the read ends has been handed
    on, or changed after the page that would show it was read.
    """
    seen: set[Hashable] = set()
    requests = 0

    def identity(row: Row) -> Hashable:
        return (key(row), changed(row)) if changed is not None else key(row)

    def read(moment: str, page: int) -> tuple[Page[Row], list[Row]]:
        nonlocal requests
        requests += 1
        if requests > MAX_CHANGE_PAGES:
            raise PaginationError(f"{name}: more than {MAX_CHANGE_PAGES} pages; stopped")
        got = fetch(moment, page)
        fresh = [row for row in got.rows if identity(row) not in seen]
        seen.update(identity(row) for row in fresh)
        return got, fresh

    def ended(got: Page[Row], page: int) -> bool:
        return (not got.rows or len(got.rows) < limit
                or (got.total_pages is not None and page >= got.total_pages))

    first, fresh = read(since, 1)
    if fresh:
        yield fresh
    if ended(first, 1):
        return  # one page: read at once, nothing moved
    times = [t for t in map(changed, first.rows) if t is not None] if changed else []
    if changed is None or since_of is None or not times or not times[0] < times[-1]:
        # Newest first, or no telling: page numbers, then the first pages again.
        top = max(times) if times else None
        yield from _newest_first(read, ended, changed, identity, since, first, top, name,
                                 max_repeats)
        return
    # Oldest first: each request starts at the last row's change time (a keyset), so a
    # row that changes (and moves to the end) while the list is read shifts nothing.
    moment, moment_time, page, got, repeats = since, None, 1, first, 0
    while not ended(got, page):
        last_time = max((t for t in map(changed, got.rows) if t is not None), default=None)
        if last_time is not None and (moment_time is None or last_time > moment_time):
            last = next(r for r in reversed(got.rows) if changed(r) == last_time)
            moment, moment_time, page = since_of(last), last_time, 1
        else:  # more rows than a page changed at one instant: on to the next page of them
            page += 1
        before = got
        got, fresh = read(moment, page)
        if fresh:
            yield fresh
        repeats = repeats + 1 if _same_rows(got, before, identity) else 0
        if repeats > max_repeats:
            raise PaginationError(f"{name}: the list answered the same page {repeats} times "
                                  f"in a row (since {moment!r}, page {page}); stopped rather "
                                  "than loop")


def _same_rows(page: Page[Row], other: Page[Row], identity: Callable[[Row], Hashable]) -> bool:
    """Two pages with the very same rows: a server answering one page whatever is asked."""
    return bool(page.rows) and list(map(identity, page.rows)) == list(map(identity,
                                                                          other.rows))


def _newest_first(read: Callable[[str, int], tuple[Page[Row], list[Row]]],
                  ended: Callable[[Page[Row], int], bool],
                  changed: Callable[[Row], datetime | None] | None,
                  identity: Callable[[Row], Hashable], since: str, first: Page[Row],
                  top: datetime | None, name: str, max_repeats: int) -> Iterator[list[Row]]:
    """Page numbers (a row that moves to the newest end pushes the others down onto pages
    still to read: seen twice, never missed), then the first pages again for the rows
    that moved there while the rest was read: while every row of a page is newer than
    ``top`` (the newest the first page showed), or, when rows show no time, while a page
    brings rows not seen before."""
    page, got, repeats = 1, first, 0
    while not ended(got, page):
        page += 1
        before = got
        got, fresh = read(since, page)
        if fresh:
            yield fresh
        repeats = repeats + 1 if _same_rows(got, before, identity) else 0
        if repeats > max_repeats:
            raise PaginationError(f"{name}: the list answered the same page {repeats} times "
                                  f"in a row (page {page}); stopped rather than loop")
    page = 0
    while True:
        page += 1
        got, fresh = read(since, page)
        if fresh:
            yield fresh
        if ended(got, page):
            return
        if changed is not None and top is not None:
            times = [changed(row) for row in got.rows]
            if not all(t is not None and t > top for t in times):
                return
        elif not fresh:
            return
