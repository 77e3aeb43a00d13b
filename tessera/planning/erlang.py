"""Erlang C: how many desks a queue needs so that a share of visitors waits at most a target.

The M/M/N queue (Poisson arrivals, exponential handling, N desks, nobody leaves):
with traffic A = arrivals x mean handling (in erlangs), the probability that a visitor
has to wait at all is Erlang C, C(N, A), and the share called within t is

    SL(t) = 1 - C(N, A) * exp(-(N - A) * t / h)

for a mean handling time h. Our own few lines rather than a library: pyworkforce, the
usual Python one, pulls in numpy, pandas and OR-Tools for this one formula.
"""

import math

# Beyond this many desks for one service in one hour the input is surely wrong
# (an arrival rate in visits per minute, say): refuse rather than loop.
MAX_DESKS = 500


def erlang_c(servers: int, traffic: float) -> float:
    """The probability that an arrival waits, for `servers` desks offered `traffic` erlangs.

    1.0 when the desks cannot keep up (traffic >= servers): the queue grows without end.
    Computed from Erlang B's recursion, B(n) = A B(n-1) / (n + A B(n-1)), which never
    forms A^N / N! and so stays exact for hundreds of desks.
    """
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return servers * blocking / (servers - traffic * (1 - blocking))


def service_level(servers: int, arrivals_per_hour: float, handling_minutes: float,
                  target_minutes: float) -> float:
    """The share of visitors called within `target_minutes` with `servers` desks (0 to 1)."""
    if arrivals_per_hour <= 0 or handling_minutes <= 0:
        return 1.0
    traffic = arrivals_per_hour * handling_minutes / 60
    waiting = erlang_c(servers, traffic)
    if waiting >= 1.0:
        return 0.0
    return 1 - waiting * math.exp(-(servers - traffic) * target_minutes / handling_minutes)


def mean_wait_minutes(servers: int, arrivals_per_hour: float, handling_minutes: float) -> float:
    """The mean wait (average speed of answer) in minutes; infinite when overloaded."""
    if arrivals_per_hour <= 0 or handling_minutes <= 0:
        return 0.0
    traffic = arrivals_per_hour * handling_minutes / 60
    if servers <= traffic:
        return math.inf
    return erlang_c(servers, traffic) * handling_minutes / (servers - traffic)


def desks_needed(arrivals_per_hour: float, handling_minutes: float, target_minutes: float,
                 share: float) -> int:
    """The fewest desks that call at least `share` of visitors within `target_minutes`.

    No arrivals need no desk; any arrivals need at least one.
    """
    if not 0 < share < 1:
        raise ValueError(f"The share must lie between 0 and 1, not {share!r}.")
    if arrivals_per_hour <= 0:
        return 0
    if handling_minutes <= 0:
        return 1
    traffic = arrivals_per_hour * handling_minutes / 60
    # Fewer desks than the traffic never keep up, so start just above it.
    servers = max(1, math.floor(traffic) + 1)
    while service_level(servers, arrivals_per_hour, handling_minutes, target_minutes) < share:
        servers += 1
        if servers > MAX_DESKS:
            raise ValueError(f"More than {MAX_DESKS} desks for {arrivals_per_hour} arrivals "
                             "an hour: check the units.")
    return servers
