"""Time helpers. SQL stores naive UTC; the site's zone decides its service day."""

import datetime as dt
from zoneinfo import ZoneInfo


def utc_now() -> dt.datetime:
    """Now, as the naive UTC datetime the database stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def epoch(moment: dt.datetime) -> float:
    """Seconds since the epoch of a naive UTC datetime (the queue scores)."""
    return moment.replace(tzinfo=dt.UTC).timestamp()


def local_time(moment: dt.datetime, timezone: str) -> dt.datetime:
    """A naive UTC datetime in a site's time zone, for display."""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))


def service_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The site's local calendar day at `moment`: ticket numbers restart with it."""
    return local_time(moment, timezone).date()


def start_of_day(moment: dt.datetime, timezone: str) -> dt.datetime:
    """The site's local midnight before `moment`, as naive UTC."""
    midnight = local_time(moment, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)
