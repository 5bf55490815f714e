"""`usage_spans` cuts any window into whole days, whole hours and partial edge hours
that do not overlap and together are the window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from prodlens.analytics.window import ceil_day, ceil_hour, floor_day, floor_hour, usage_spans

START = datetime(2026, 1, 1, tzinfo=UTC)
# Offsets in minutes, so edges land on and off the hour and the day alike.
minutes = st.integers(min_value=0, max_value=6 * 24 * 60)


@given(minutes, st.integers(min_value=1, max_value=4 * 24 * 60))
def test_the_parts_tile_the_window(first: int, length: int) -> None:
    since = START + timedelta(minutes=first)
    until = since + timedelta(minutes=length)
    spans = usage_spans(since, until)
    whole = sorted([*([spans.days] if spans.days else []), *spans.hours])
    parts = sorted([*whole, *spans.partial])
    assert parts[0][0] == since
    assert parts[-1][1] == until
    for (_, end), (start, _) in itertools.pairwise(parts):
        assert end == start  # no gap, no overlap
    assert all(start < end for start, end in parts)
    if spans.days:
        assert all(floor_day(moment) == moment for moment in spans.days)
    for start, end in spans.hours:  # whole hours, no whole day among them
        assert (floor_hour(start), floor_hour(end)) == (start, end)
        assert ceil_day(start) + timedelta(days=1) > end
    for start, end in spans.partial:  # no whole hour among them
        assert ceil_hour(start) + timedelta(hours=1) > end
    assert spans.whole_hours == ((whole[0][0], whole[-1][1]) if whole else None)
