"""The one paginator every list call uses: it reads every row once, ends where the list ends,
and never loops or skips when a server answers a page again."""

from __future__ import annotations

from typing import Any

import pytest
from shipsync.pagination import (
    Keyset,
    Offsets,
    Page,
    PageNumbers,
    PaginationError,
    paginate,
    paginate_changes,
)

ROWS = [{"id": i} for i in range(1, 12)]  # 11 rows, pages of 4


def by_number(rows: list[dict[str, Any]], *, total: bool) -> Any:
    calls: list[int] = []

    def fetch(page: int) -> Page[dict[str, Any]]:
        calls.append(page)
        chunk = rows[(page - 1) * 4: page * 4]
        return Page(chunk, -(-len(rows) // 4) if total else None)

    return fetch, calls


@pytest.mark.parametrize("total", [True, False])
def test_page_numbers_read_every_row_once_and_stop_at_the_end(total: bool) -> None:
    fetch, calls = by_number(ROWS, total=total)
    pages = list(paginate(fetch, PageNumbers(4, key=lambda r: r["id"]), name="test"))
    assert [r["id"] for page in pages for r in page] == list(range(1, 12))
    assert calls == [1, 2, 3]  # the third page is short: no fourth call


def test_a_full_last_page_without_a_total_costs_one_empty_call() -> None:
    fetch, calls = by_number(ROWS[:8], total=False)
    pages = list(paginate(fetch, PageNumbers(4, key=lambda r: r["id"]), name="test"))
    assert sum(len(p) for p in pages) == 8 and calls == [1, 2, 3]


def test_rows_moving_between_pages_are_yielded_once() -> None:
    # While the list is read, a row moves from page 1 to page 2: the second page answers it
    # again; it must not be handed on twice.
    answers = {1: [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
               2: [{"id": 4}, {"id": 5}, {"id": 6}, {"id": 7}], 3: [{"id": 8}]}
    pages = list(paginate(lambda page: Page(answers[page]), PageNumbers(4, key=lambda r: r["id"]),
                          name="test"))
    assert [r["id"] for page in pages for r in page] == list(range(1, 9))


def test_a_page_answered_again_is_asked_again_then_the_read_continues() -> None:
    answers = [[{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}], [{"id": 3}]]
    calls: list[int] = []

    def fetch(page: int) -> Page[dict[str, Any]]:
        calls.append(page)
        return Page(answers[len(calls) - 1])

    pages = list(paginate(fetch, PageNumbers(2, key=lambda r: r["id"]), name="test"))
    assert [r["id"] for page in pages for r in page] == [1, 2, 3]
    assert calls == [1, 2, 2]  # page 2 answered page 1 again: asked again, never skipped


def test_a_list_that_keeps_answering_the_same_page_fails_naming_it() -> None:
    calls: list[int] = []

    def fetch(page: int) -> Page[dict[str, Any]]:
        calls.append(page)
        return Page([{"id": 1}, {"id": 2}])

    with pytest.raises(PaginationError, match="GET /things"):
        list(paginate(fetch, PageNumbers(2, key=lambda r: r["id"]), name="api GET /things"))
    assert len(calls) == 5  # the first page, then page 2 asked 1 + 3 times


def test_keyset_pages_after_the_last_id_and_stops_at_last_id() -> None:
    asked: list[int] = []

    def fetch(min_id: int) -> Page[dict[str, Any]]:
        asked.append(min_id)
        return Page([r for r in ROWS if r["id"] >= min_id][:4])

    pages = list(paginate(fetch, Keyset(4, key=lambda r: r["id"], first=2, last_id=7),
                          name="test"))
    assert [r["id"] for page in pages for r in page] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert asked == [2, 6]  # the next min_id is past max_id: no third call


def test_keyset_drops_rows_below_its_cursor_as_a_repeated_page() -> None:
    answers = [[{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}], [{"id": 3}]]
    pages = list(paginate(lambda min_id: Page(answers.pop(0)), Keyset(2, key=lambda r: r["id"]),
                          name="test"))
    assert [r["id"] for page in pages for r in page] == [1, 2, 3]


def test_offsets_advance_by_the_rows_read() -> None:
    asked: list[int] = []

    def fetch(offset: int) -> Page[dict[str, Any]]:
        asked.append(offset)
        return Page(ROWS[offset:offset + 4])

    pages = list(paginate(fetch, Offsets(4, key=lambda r: r["id"]), name="test"))
    assert sum(len(p) for p in pages) == 11 and asked == [0, 4, 8]


def test_an_empty_list_is_one_call_and_no_page() -> None:
    calls: list[int] = []
    pages = list(paginate(lambda page: (calls.append(page), Page([]))[1],
                          PageNumbers(4, key=lambda r: r), name="test"))
    assert pages == [] and calls == [1]


# -- lists of changes (paginate_changes) -------------------------------------------------

class ChangingList:
    """A list filtered by ``since`` and sorted by change time, oldest or newest first, in
    which ``move`` rows change (and move to the newest end) before each page after the
    first is answered, as a server's do while a client reads it."""

    def __init__(self, count: int, *, newest_first: bool, move: int = 0,
                 show_times: bool = True) -> None:
        self.times = {f"r{i}": float(i) for i in range(count)}
        self.clock = float(count)
        self.newest_first, self.move, self.show_times = newest_first, move, show_times
        self.calls: list[tuple[str, int]] = []

    def rows(self, since: float) -> list[str]:
        chosen = [r for r, t in self.times.items() if t >= since]
        return sorted(chosen, key=lambda r: self.times[r], reverse=self.newest_first)

    def fetch(self, since: str, page: int) -> Page[dict[str, Any]]:
        self.calls.append((since, page))
        moment = float(since)
        if page > 1:
            for _ in range(self.move):  # the oldest listed rows change while we read
                oldest = min(self.rows(moment), key=lambda r: self.times[r])
                self.clock += 1
                self.times[oldest] = self.clock
        listed = self.rows(moment)
        chunk = listed[(page - 1) * 4: page * 4]
        return Page([{"id": r, **({"t": self.times[r]} if self.show_times else {})}
                     for r in chunk], -(-len(listed) // 4))


def read_changes(changing: ChangingList) -> list[dict[str, Any]]:
    from datetime import datetime, timezone

    def changed(row: dict[str, Any]) -> datetime | None:
        return datetime.fromtimestamp(row["t"], timezone.utc) if "t" in row else None

    pages = paginate_changes(changing.fetch, since="0", limit=4, key=lambda r: r["id"],
                             changed=changed if changing.show_times else None,
                             since_of=lambda r: str(r["t"]), name="test")
    return [row for page in pages for row in page]


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
@pytest.mark.parametrize("move", [0, 1, 3])
def test_a_list_of_changes_is_read_whole_while_its_rows_move(newest_first: bool,
                                                             move: int) -> None:
    changing = ChangingList(13, newest_first=newest_first, move=move)

    rows = read_changes(changing)

    # A row not handed on changed after the read passed it: it is newer than every row
    # handed on, so a bookmark at the newest handed on finds it on the next read.
    newest = max(r["t"] for r in rows)
    missed = {r for r in changing.times} - {r["id"] for r in rows}
    assert all(changing.times[r] > newest for r in missed), missed
    if move <= 1:  # a few changes while a page is read (a server's usual pace): none missed
        assert missed == set()


def test_page_numbers_alone_lose_a_row_when_one_moves_oldest_first() -> None:
    # What paginate_changes is for: the same list read by page numbers skips a row.
    changing = ChangingList(13, newest_first=False, move=1)
    pages = paginate(lambda page: changing.fetch("0", page),
                     PageNumbers(4, key=lambda r: r["id"]), name="test")
    assert {r["id"] for page in pages for r in page} != set(changing.times)


def test_oldest_first_is_read_as_a_keyset_on_the_change_time() -> None:
    changing = ChangingList(13, newest_first=False, move=1)
    read_changes(changing)
    assert all(page == 1 for _, page in changing.calls)  # no page numbers at all
    assert len({since for since, _ in changing.calls}) == len(changing.calls)


def test_newest_first_reads_its_first_pages_again_for_rows_that_moved_there() -> None:
    changing = ChangingList(13, newest_first=True, move=1)
    read_changes(changing)
    assert [page for _, page in changing.calls][:4] == [1, 2, 3, 4]
    assert changing.calls[4:][0][1] == 1  # then the top again


@pytest.mark.parametrize("newest_first", [False, True])
def test_rows_that_show_no_time_are_read_by_page_then_the_top_again(newest_first: bool) -> None:
    changing = ChangingList(13, newest_first=newest_first, move=0, show_times=False)
    rows = read_changes(changing)
    assert sorted(r["id"] for r in rows) == sorted(changing.times)
    assert changing.calls[-1][1] == 1  # the first page read again at the end


def test_a_server_answering_one_page_whatever_is_asked_stops_the_read() -> None:
    def fetch(since: str, page: int) -> Page[dict[str, Any]]:
        return Page([{"id": i, "t": 0.0} for i in range(4)], None)

    with pytest.raises(PaginationError, match="same page"):
        list(paginate_changes(fetch, since="0", limit=4, key=lambda r: r["id"], name="test"))
