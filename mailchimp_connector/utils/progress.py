# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A run's progress as people read it: the percent done, the time left at the
rate so far, and the short date of a run's name. No database here."""

import re

# a run's figures reach the browser at most this often (seconds)
NOTIFY_EVERY = 1.0


def percent(done, total, finished=False):
    """The percent done, 0 to 100: 100 once the run is done, whatever the estimate
    said; never more than 100 while the total is an estimate that ``done`` passed."""
    if finished:
        return 100.0
    if total <= 0:
        return 0.0
    return round(min(100.0, 100.0 * done / total), 1)


def seconds_left(done, total, elapsed):
    """The seconds left at the rate so far (``done`` items in ``elapsed``
    seconds), or None when there is no rate yet or nothing left to estimate."""
    if done <= 0 or elapsed <= 0 or total <= done:
        return None
    return (total - done) * elapsed / done


def minutes_left(seconds):
    """Whole minutes, rounded up (a run 20 s from its end has "1 minute" left);
    None when unknown."""
    if seconds is None:
        return None
    return max(1, int(-(-seconds // 60)))


_YEAR = re.compile(r"%[Yy][^%\w]*|[^%\w]*%[Yy]")
_SECONDS = re.compile(r"[^%\w]*%S")


def short_datetime_format(date_format, time_format):
    """A language's strftime formats without the year and the seconds: the short
    stamp of a run's name ("%m/%d/%Y", "%H:%M:%S" give "%m/%d %H:%M")."""
    date_part = _YEAR.sub("", date_format or "%m/%d/%Y") or "%m/%d"
    time_part = _SECONDS.sub("", time_format or "%H:%M:%S") or "%H:%M"
    return f"{date_part} {time_part}"
