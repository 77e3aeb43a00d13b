"""Opening hours: when a centre is open, when walk-in issuing stops, when it opens next.

Hours are local times per weekday, several intervals a day ("09:00-12:30",
"13:30-17:00"; "24:00" ends at midnight), with closed dates for holidays. A
service day is the site's local calendar day; its closing time is the end of its
last interval. Walk-in issuing stops `walk_in_stop_minutes` before the end of
each interval, so nobody takes a ticket for a desk that is about to close.
"""

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK_TIME = r"([01]\d|2[0-3]):[0-5]\d"
INTERVAL = re.compile(rf"^(?P<start>{CLOCK_TIME})-(?P<end>{CLOCK_TIME}|24:00)$")
ALL_DAY = ("00:00-24:00",)
# Looking further ahead than this for the next opening means the hours are empty.
SEARCH_DAYS = 400


def parse_interval(text: str) -> tuple[dt.time, dt.time | None] | None:
    """("09:00", "17:00") as times; an end of 24:00 is None (midnight); None if malformed."""
    match = INTERVAL.match(text)
    if match is None:
        return None
    start = dt.time.fromisoformat(match["start"])
    end = None if match["end"] == "24:00" else dt.time.fromisoformat(match["end"])
    if end is not None and end <= start:
        return None
    return start, end


@dataclass(frozen=True)
class OpeningHours:
    """A site's weekly hours and closed dates, in its time zone."""

    timezone: str
    weekly: dict[str, list[str]]
    closed_dates: frozenset[dt.date] = frozenset()
    walk_in_stop_minutes: int = 0

    @classmethod
    def of(cls, site) -> "OpeningHours":
        """The opening hours of a Site row."""
        return cls(site.timezone, dict(site.opening_hours or {}),
                   frozenset(dt.date.fromisoformat(day) for day in site.closed_dates or ()),
                   site.walk_in_stop_minutes or 0)

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's opening intervals as naive UTC (start, end), in order.

        A site that gives no hours at all is open around the clock; one that
        gives some is closed on the weekdays it leaves out.
        """
        if day in self.closed_dates:
            return []
        zone = ZoneInfo(self.timezone)
        spans = []
        for text in self.weekly.get(WEEKDAYS[day.weekday()], []) if self.weekly else ALL_DAY:
            start, end = parse_interval(text)
            local_start = dt.datetime.combine(day, start, zone)
            local_end = (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
                         if end is None else dt.datetime.combine(day, end, zone))
            spans.append((_utc(local_start), _utc(local_end)))
        return sorted(spans)

    def local_day(self, moment: dt.datetime) -> dt.date:
        """The site's local calendar day at a naive UTC moment."""
        return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone)).date()

    def is_open(self, moment: dt.datetime) -> bool:
        """Whether the centre is open at a naive UTC moment."""
        return any(start <= moment < end for start, end in self.intervals(self.local_day(moment)))

    def accepts_walk_in(self, moment: dt.datetime) -> bool:
        """Whether a walk-in ticket may be issued now: open, and not about to close."""
        stop = dt.timedelta(minutes=self.walk_in_stop_minutes)
        return any(start <= moment < end - stop
                   for start, end in self.intervals(self.local_day(moment)))

    def next_opening(self, moment: dt.datetime) -> dt.datetime | None:
        """When walk-in issuing next starts after `moment` (naive UTC), or None if never."""
        stop = dt.timedelta(minutes=self.walk_in_stop_minutes)
        day = self.local_day(moment)
        for offset in range(SEARCH_DAYS):
            for start, end in self.intervals(day + dt.timedelta(days=offset)):
                if end - stop > max(start, moment):
                    return max(start, moment)
        return None

    def closing_time(self, day: dt.date) -> dt.datetime | None:
        """When the service day `day` closes (naive UTC), or None if it does not open."""
        spans = self.intervals(day)
        return spans[-1][1] if spans else None


def opening_words(moment: dt.datetime, timezone: str, language: str) -> dict[str, str]:
    """A naive UTC moment as a visitor reads it in `language`: {"day": ..., "time": ...}."""
    aware, zone = moment.replace(tzinfo=dt.UTC), ZoneInfo(timezone)
    return {"day": format_skeleton("MMMMEEEEd", aware, tzinfo=zone, locale=language),
            "time": format_time(aware, "short", tzinfo=zone, locale=language)}


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
