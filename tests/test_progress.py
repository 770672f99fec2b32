"""A run's progress as people read it (utils/progress.py)."""

import pytest

from mailchimp_utils.progress import (
    minutes_left,
    percent,
    seconds_left,
    short_datetime_format,
)


@pytest.mark.parametrize(
    "done, total, finished, expected",
    [
        (0, 0, False, 0.0),
        (0, 20000, False, 0.0),
        (4000, 20000, False, 20.0),
        (1, 3, False, 33.3),
        # an estimate the run went past: never over 100 while running
        (25000, 20000, False, 100.0),
        # done is 100 whatever the estimate said
        (4000, 20000, True, 100.0),
        (0, 0, True, 100.0),
    ],
)
def test_percent(done, total, finished, expected):
    assert percent(done, total, finished) == expected


def test_seconds_left_follows_the_rate_so_far():
    # 4,000 in 60 s: 16,000 more take 240 s
    assert seconds_left(4000, 20000, 60) == 240
    assert minutes_left(seconds_left(4000, 20000, 60)) == 4


@pytest.mark.parametrize(
    "done, total, elapsed", [(0, 20000, 60), (4000, 20000, 0), (20000, 20000, 60)]
)
def test_no_time_left_without_a_rate_or_anything_left(done, total, elapsed):
    assert seconds_left(done, total, elapsed) is None
    assert minutes_left(None) is None


@pytest.mark.parametrize(
    "seconds, minutes", [(1, 1), (59.5, 1), (60, 1), (61, 2), (3600, 60)]
)
def test_minutes_left_round_up(seconds, minutes):
    assert minutes_left(seconds) == minutes


@pytest.mark.parametrize(
    "date_format, time_format, expected",
    [
        ("%m/%d/%Y", "%H:%M:%S", "%m/%d %H:%M"),
        ("%d/%m/%Y", "%H:%M:%S", "%d/%m %H:%M"),
        ("%Y-%m-%d", "%H:%M:%S", "%m-%d %H:%M"),
        ("%d.%m.%y", "%I:%M:%S %p", "%d.%m %I:%M %p"),
        (False, False, "%m/%d %H:%M"),
    ],
)
def test_short_datetime_format_drops_the_year_and_seconds(
    date_format, time_format, expected
):
    assert short_datetime_format(date_format, time_format) == expected
