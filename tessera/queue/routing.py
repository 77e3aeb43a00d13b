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
who will be free soon. Boosts are bounded and waiting grows without bound, so
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
    # minutes before urgency stopped at the target, 12.5 since (it keeps the
    # reference day above 70%; BENCHMARKS.md, Centres of every shape).
    language_boost: float = 750
    # Whether the language boost also applies at a counter alone with the service
    # (no other counter on duty serves it). There it cannot change who serves the
    # visitor, only the order: visitors in a language the desk speaks go first.
    # Off: on the same days it serves as many in their language, at the same
    # waits, and no visitor is overtaken there for their language (BENCHMARKS.md,
    # The language boost at a lone desk).
    language_boost_when_alone: bool = False
    appointment_boost: float = 1800
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
    # wait stays within this fraction of its target.
    hold_horizon: float = 300
    hold_fraction: float = 0.5
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
