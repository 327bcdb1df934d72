"""The one paginator every list call uses: it reads every row once, ends where the list ends,
and never loops or skips when a server answers a page again."""

from __future__ import annotations

from typing import Any

import pytest
from shipsync.pagination import Keyset, Offsets, Page, PageNumbers, PaginationError, paginate

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
