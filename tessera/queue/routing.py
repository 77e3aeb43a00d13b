"""The routing policy's weights: who a counter calls next.

The policy itself is one Lua function (tessera/queue/call_next.lua), run
inside Redis by the live engine, by the wait forecast and by the simulator
alike. A waiting step's *effective wait* is the time the visit has waited (a
referral keeps the visit's arrival time), plus boosts for a priority need, a
due appointment, a language the counter's staff speak (where that can change
who serves the visitor) and a service no other counter on duty serves, plus
urgency as the wait nears the service's target (until the target: past it a
step cannot be served within it any more). The counter takes the step
with the highest effective wait, except that a step whose visitor shares no
language with this counter may be *held* briefly for a colleague who does and
who will be free soon: for up to five minutes while this counter has someone
else to serve meanwhile, for up to two if holding would leave it idle (which
happens when the centre is lightly loaded, where a longer hold would be a large
share of a small wait). Boosts are bounded and waiting grows without bound, so
nobody starves.

The weights are tuned with the simulator (tessera/planning/simulator.py) on the
reference day, ../shared/scenarios/oss-reference.yaml, and checked on generated
centres of every shape (bench/centres.py): see BENCHMARKS.md (Routing: a
simulated day; Centres of every shape) for the figures and the reasons.
"""

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class RoutingPolicy:
    """Weights of the routing policy, all in seconds unless said otherwise."""

    priority_boost: float = 600
    # With holds, what lifts service in the visitor's language past 70% of the
    # steps some counter could serve in it, at little cost in waiting: ten
    # minutes before urgency stopped at the target, 12.5 since, 15 since holds
    # at an idle counter are short (each step keeps the reference day's ten
    # days above 70%, by 0.3 points now, and 69.5% over 50; BENCHMARKS.md,
    # Centres of every shape).
    language_boost: float = 900
    # Whether the language boost also applies at a counter alone with the service
    # (no other counter on duty serves it). There it cannot change who serves the
    # visitor, only the order: visitors in a language the desk speaks go first.
    # Off: on the same days it serves as many in their language, at the same
    # waits, and no visitor is overtaken there for their language (BENCHMARKS.md,
    # The language boost at a lone desk).
    language_boost_when_alone: bool = False
    # 40 minutes: urgency, weighing up to the whole target since it stops there,
    # had taken back about a point of appointments called within 5 minutes of
    # their slot at 30 (BENCHMARKS.md, Booked visits beside walk-ins).
    appointment_boost: float = 2400
    # For a step only this counter (of those on duty) serves: colleagues can take
    # the other steps, so a specialist desk is not spent on them while its own
    # visitors wait. It keeps the share served within target at least LWF's.
    specialist_boost: float = 600
    # An appointment counts as due this long before its slot.
    appointment_window: float = 300
    # Urgency starts at this fraction of the service's target wait...
    # (from half the target, twice as steep as waiting, and ending at the target:
    # what keeps the share within target at least LWF's on generated centres of
    # every load, where urgency without end lost up to 3 points; BENCHMARKS.md)
    urgency_from: float = 0.5
    # ...and adds this many seconds of effective wait per second waited beyond it...
    urgency_weight: float = 2.0
    # ...until the wait reaches this fraction of the target (0: no end); past it
    # urgency stays as it is, since the step cannot be served within target anyway.
    urgency_until: float = 1.0
    # Hold a step for a speaker of its language who can start it within this many
    # seconds (counting steps already held for them), and only while the step's
    # wait stays within this fraction of its target (the whole target: a hold
    # never makes a step late, and the idle limit below keeps holds short where
    # they cost most).
    hold_horizon: float = 300
    hold_fraction: float = 1.0
    # ...but within this many seconds only when every step this counter could
    # call would be held, so that it would stand idle (0: no such limit). A hold
    # while the counter serves someone else costs little; one that leaves it
    # idle costs the held visitor the whole hold, on a lightly loaded day a
    # large share of a small wait: these were most of the mean-wait misses on
    # generated centres (BENCHMARKS.md, Centres of every shape).
    hold_idle_horizon: float = 120
    # How many of the oldest steps per service queue are considered.
    scan: int = 64

    def as_script_argument(self) -> dict:
        """The weights as the JSON object call_next.lua reads."""
        return asdict(self)


TESSERA = RoutingPolicy()

# Skills-based longest-wait-first: the same script with every boost and hold
# switched off, the usual baseline in skills-based routing.
LONGEST_WAIT_FIRST = replace(
    TESSERA, priority_boost=0, language_boost=0, appointment_boost=0, specialist_boost=0,
    urgency_weight=0, hold_horizon=0, hold_fraction=0,
)
