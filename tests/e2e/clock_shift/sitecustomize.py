"""Shift this process's wall clock by ``$CLOCK_SHIFT_SECONDS`` (tests only).

On ``PYTHONPATH``, Python imports it at start-up, before any of shipsync: then
``time.time``/``time.time_ns`` and ``datetime.now``/``utcnow``/``today`` are that
far off, as on a host whose clock is wrong. Monotonic clocks are left alone,
as a wrong wall clock leaves them alone.
"""

from __future__ import annotations

import datetime as _datetime
import os
import time as _time

_SHIFT = float(os.environ.get("CLOCK_SHIFT_SECONDS") or 0)

if _SHIFT:
    _real_time, _real_time_ns = _time.time, _time.time_ns
    _time.time = lambda: _real_time() + _SHIFT
    _time.time_ns = lambda: _real_time_ns() + int(_SHIFT * 1_000_000_000)
    _base = _datetime.datetime

    class _ShiftedDatetime(_base):
        # Built from the shifted time.time: instances of this class, as isinstance expects.
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return cls.fromtimestamp(_time.time(), tz)

        @classmethod
        def utcnow(cls):  # type: ignore[no-untyped-def, override]
            return cls.fromtimestamp(_time.time(), _datetime.timezone.utc).replace(tzinfo=None)

        @classmethod
        def today(cls):  # type: ignore[no-untyped-def, override]
            return cls.fromtimestamp(_time.time())

    _datetime.datetime = _ShiftedDatetime  # type: ignore[misc]
