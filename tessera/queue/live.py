"""The live state in Redis: service queues, counter duties and ticket numbering.

Everything here can be rebuilt from SQL (tessera/queue/reconcile.py), so Redis may
be flushed at any moment. Keys carry the site as a hash tag,
`tessera:{<site>}:...`, so one site's keys stay in one slot.
"""

import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from importlib import resources

import redis

from tessera.queue.routing import RoutingPolicy

NUMBER_KEY_SECONDS = 3 * 24 * 3600

logger = logging.getLogger(__name__)


def _script(name: str) -> str:
    return resources.files("tessera.queue").joinpath(name).read_text(encoding="utf-8")


def site_prefix(site_id: str) -> str:
    """The prefix of every key of one site."""
    return f"tessera:{{{site_id}}}:"


def queue_key(site_id: str, service_id: int) -> str:
    """The sorted set of one service's waiting steps."""
    return f"{site_prefix(site_id)}queue:{service_id}"


def reserved_key(site_id: str, counter_id: int) -> str:
    """The sorted set of the waiting steps transferred to one desk, which only it may call."""
    return f"{site_prefix(site_id)}reserved:{counter_id}"


def counters_key(site_id: str) -> str:
    """The hash of the counters on duty at a site."""
    return f"{site_prefix(site_id)}counters"


def presence_key(site_id: str) -> str:
    """The hash of when each desk's workstation page was last seen: counter id -> epoch."""
    return f"{site_prefix(site_id)}presence"


# What a kiosk's printer can be: printing, or why not.
PRINTER_STATUSES = ("ok", "offline", "paper_out", "error")


def generation_key(site_id: str) -> str:
    """The marker of the Redis run the site's live state was last repaired in."""
    return f"{site_prefix(site_id)}generation"


def printers_key(site_id: str) -> str:
    """The hash of each kiosk's printer status (written by the print jobs)."""
    return f"{site_prefix(site_id)}printers"


def number_key(site_id: str, service_day: dt.date, prefix: str) -> str:
    """The counter behind one day's ticket numbers for one prefix."""
    return f"{site_prefix(site_id)}number:{service_day.isoformat()}:{prefix}"


@dataclass(frozen=True)
class QueuedStep:
    """What the routing policy knows of a waiting step; no personal data."""

    step_id: int
    service_id: int
    arrived_at: float  # epoch seconds: the visit's arrival, kept across referrals
    language: str
    priority: bool = False
    appointment_due: float = 0.0  # epoch seconds; 0 when not an appointment
    reserved_counter: int | None = None  # transferred to this desk: only it may call

    @property
    def member(self) -> str:
        """The sorted-set member: everything call_next.lua scores on."""
        flags = "p" if self.priority else ""
        return f"{self.step_id}|{self.language}|{flags}|{self.appointment_due:.0f}"

    def key(self, site_id: str) -> str:
        """Where the step waits: its service queue, or the reserved steps of its desk."""
        if self.reserved_counter is not None:
            return reserved_key(site_id, self.reserved_counter)
        return queue_key(site_id, self.service_id)


@dataclass(frozen=True)
class Duty:
    """A counter on duty: what it serves now, in which languages."""

    service_ids: tuple[int, ...]
    languages: tuple[str, ...]
    paused: bool = False
    step_id: int | None = None  # the step it has called or is serving
    free_at: float = 0.0  # epoch seconds it expects to be free, while busy

    def as_json(self) -> str:
        """The JSON call_next.lua reads."""
        state = "paused" if self.paused else ("open" if self.step_id is None else "busy")
        return json.dumps({
            "state": state, "services": [str(s) for s in self.service_ids],
            "languages": list(self.languages), "free_at": self.free_at,
            "step": None if self.step_id is None else str(self.step_id),
        })


@dataclass(frozen=True)
class ServiceQueue:
    """One service a counter calls from, with what the policy needs of it."""

    service_id: int
    target_seconds: float
    mean_handling_seconds: float


@dataclass(frozen=True)
class CallResult:
    """What call_next.lua decided for one counter."""

    status: str  # called | empty | busy | not_open
    step_id: int | None = None
    service_id: int | None = None
    member: str | None = None
    held: int = 0
    retry_after: float | None = None
    extra: dict = field(default_factory=dict)


class LiveState:
    """Redis operations on the live queues; each one is atomic."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._call_next = client.register_script(_script("call_next.lua"))
        self._next_number = client.register_script(_script("next_number.lua"))
        self._claim_step = client.register_script(_script("claim_step.lua"))
        # Sites whose live write failed in this process: stale until repaired.
        self.stale_sites: set[str] = set()

    # Health of the live state -----------------------------------------------

    def _run_id(self) -> str:
        return str(self.redis.info("server").get("run_id", ""))

    def generation_current(self, site_id: str) -> bool:
        """Whether Redis still holds the live state the last repair left.

        False after FLUSHALL (the marker is gone), after a restart (Redis's run_id
        changed, so writes since its last save may be lost) and after a live write
        failed in this process.
        """
        if site_id in self.stale_sites:
            return False
        marker = self.redis.get(generation_key(site_id))
        return marker is not None and marker.decode() == self._run_id()

    def mark_generation(self, site_id: str) -> None:
        """Record that the site's live state now agrees with SQL, in this Redis run."""
        self.redis.set(generation_key(site_id), self._run_id())
        self.stale_sites.discard(site_id)

    def mark_stale(self, site_id: str) -> None:
        """A live write failed: the next check (and the scheduler's) repairs the site."""
        self.stale_sites.add(site_id)
        # Redis may be away: then the changed run_id or this process's flag tells.
        with contextlib.suppress(redis.RedisError):
            self.redis.delete(generation_key(site_id))

    def _after_commit(self, site_id: str, write) -> None:
        # SQL holds the truth already: a failed Redis write must not fail the request,
        # it only leaves the live state stale for the repair.
        try:
            write()
        except redis.RedisError:
            logger.warning("A live write for site %s failed; it will be repaired", site_id,
                           exc_info=True)
            self.mark_stale(site_id)

    # Queues -----------------------------------------------------------------

    def enqueue(self, site_id: str, step: QueuedStep) -> None:
        """Put a step in its service queue (or its desk's reserved steps), at its arrival time."""
        self._after_commit(site_id, lambda: self.redis.zadd(step.key(site_id),
                                                            {step.member: step.arrived_at}))

    def remove(self, site_id: str, step: QueuedStep) -> bool:
        """Take a step out of its queue; False if it was not there."""
        try:
            return bool(self.redis.zrem(step.key(site_id), step.member))
        except redis.RedisError:
            self.mark_stale(site_id)  # the repair drops it, as SQL has ended it
            return False

    def reserved(self, site_id: str, counter_id: int) -> list[tuple[str, float]]:
        """The steps transferred to a desk with their arrival times, oldest first."""
        return [(member.decode(), score) for member, score in
                self.redis.zrange(reserved_key(site_id, counter_id), 0, -1, withscores=True)]

    def drop_reserved(self, site_id: str, counter_id: int) -> None:
        """Forget every step reserved for a desk (it closed; they queue for anyone again)."""
        self.redis.delete(reserved_key(site_id, counter_id))

    def claim(self, site_id: str, counter_id: int, now: float,
              step: QueuedStep | None = None) -> CallResult:
        """Claim `step` for a desk, or (None) the oldest step reserved for it; one script.

        Status `gone` when another desk claimed the step first, `empty` when
        nothing is reserved for the desk.
        """
        key = step.key(site_id) if step is not None else reserved_key(site_id, counter_id)
        raw = json.loads(self._claim_step(
            keys=[counters_key(site_id), key],
            args=[now, str(counter_id), step.member if step is not None else ""]))
        return CallResult(status=raw["status"],
                          step_id=int(raw["step"]) if raw.get("step") else None,
                          member=raw.get("member"))

    def waiting(self, site_id: str, service_id: int) -> list[tuple[str, float]]:
        """The members of a service queue with their arrival times, oldest first."""
        return [(member.decode(), score) for member, score in
                self.redis.zrange(queue_key(site_id, service_id), 0, -1, withscores=True)]

    def waiting_count(self, site_id: str, service_id: int) -> int:
        """How many steps wait for a service."""
        return self.redis.zcard(queue_key(site_id, service_id))

    def ahead_of(self, site_id: str, step: QueuedStep) -> int:
        """How many steps of the same service arrived before this one."""
        return self.redis.zcount(queue_key(site_id, step.service_id), "-inf",
                                 f"({step.arrived_at!r}")

    # Counters ---------------------------------------------------------------

    def set_duty(self, site_id: str, counter_id: int, duty: Duty | None) -> None:
        """Record a counter's duty; None takes the counter off duty."""
        if duty is None:
            self._after_commit(site_id, lambda: self.redis.hdel(counters_key(site_id),
                                                                str(counter_id)))
        else:
            self._after_commit(site_id, lambda: self.redis.hset(
                counters_key(site_id), str(counter_id), duty.as_json()))

    def mark_present(self, site_id: str, counter_id: int, at: float) -> None:
        """Record that a desk's workstation page was there at `at` (epoch seconds)."""
        self.redis.hset(presence_key(site_id), str(counter_id), repr(at))

    def last_seen(self, site_id: str) -> dict[int, float]:
        """When each desk's workstation page was last seen (epoch seconds), by counter id.

        A desk missing here has no record at all, e.g. just after Redis was flushed.
        """
        return {int(counter_id): float(at)
                for counter_id, at in self.redis.hgetall(presence_key(site_id)).items()}

    def call_next(self, site_id: str, counter_id: int, queues: list[ServiceQueue],
                  policy: RoutingPolicy, now: float) -> CallResult:
        """Run the routing policy for a counter and claim the step it picks."""
        argument = json.dumps({
            "policy": policy.as_script_argument(),
            "services": [[q.service_id, q.target_seconds, q.mean_handling_seconds]
                         for q in queues],
        })
        keys = [counters_key(site_id)] + [queue_key(site_id, q.service_id) for q in queues]
        raw = json.loads(self._call_next(keys=keys, args=[now, str(counter_id), argument]))
        status = raw.pop("status")
        step = raw.pop("step", None)
        service = raw.pop("service", None)
        return CallResult(
            status=status,
            step_id=int(step) if step is not None else None,
            service_id=int(service) if service is not None else None,
            member=raw.pop("member", None),
            held=int(raw.pop("held", 0)),
            retry_after=raw.pop("retry_after", None),
            extra=raw,
        )

    def printer_statuses(self, site_id: str) -> dict[str, dict]:
        """Each kiosk's last printer status: {"status": "ok" | "offline" | ..., "message", "at"}."""
        return {kiosk.decode(): json.loads(status)
                for kiosk, status in self.redis.hgetall(printers_key(site_id)).items()}

    def set_printer_status(self, site_id: str, kiosk_key: str, status: str,
                           message: str | None, at: dt.datetime) -> dict | None:
        """Record a kiosk printer's status; returns the one it replaces (None if none)."""
        if status not in PRINTER_STATUSES:
            raise ValueError(f"Unknown printer status {status!r}")
        value = json.dumps({"status": status, "message": message, "at": at.isoformat() + "Z"})
        before = self.redis.hget(printers_key(site_id), kiosk_key)
        self.redis.hset(printers_key(site_id), kiosk_key, value)
        return json.loads(before) if before is not None else None

    # Numbering --------------------------------------------------------------

    def next_number(self, site_id: str, service_day: dt.date, prefix: str,
                    floor: int | None = None) -> int | None:
        """The next sequence for a prefix on a service day.

        Returns None when Redis lost the counter; call again with `floor`, the
        highest sequence SQL holds, so no number is ever handed out twice.
        """
        number = self._next_number(
            keys=[number_key(site_id, service_day, prefix)],
            args=["" if floor is None else floor, NUMBER_KEY_SECONDS],
        )
        return None if number is None else int(number)

    # Whole site -------------------------------------------------------------

    def flush_site(self, site_id: str) -> int:
        """Delete every live key of a site; returns how many there were."""
        keys = list(self.redis.scan_iter(match=f"{site_prefix(site_id)}*", count=500))
        if keys:
            self.redis.delete(*keys)
        return len(keys)
