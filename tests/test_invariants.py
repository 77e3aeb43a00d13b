"""Random sequences of operations keep the invariants of DESIGN.md (hypothesis, stateful).

After every operation, whether the engine accepted or refused it:
- Redis's queues hold exactly the steps SQL says are waiting (invariant 4's premise);
- each counter holds at most one called or serving step, and Redis agrees;
- a step is called again only after it went back to waiting (invariant 2);
- every step's state is the one its last event says (invariant 3);
- ticket numbers are unique per day and prefix.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from tessera.errors import TesseraError
from tessera.models import Event, Step, StepState, Ticket
from tessera.queue.live import counters_key, queue_key
from tessera.queue.reconcile import reconcile

from .helpers import load_small_site

# The state each event kind leaves a step in.
STATE_AFTER = {
    "queued": StepState.WAITING, "returned": StepState.WAITING,
    "called": StepState.CALLED, "recalled": StepState.CALLED,
    "started": StepState.SERVING, "finished": StepState.DONE,
    "no_show": StepState.NO_SHOW, "referred": StepState.REFERRED,
    "cancelled": StepState.CANCELLED, "expired": StepState.EXPIRED,
}
DESKS = ["desk-1", "desk-2", "desk-3"]
SERVICES = ["registration", "certificates", "legal_advice"]


class QueueMachine(RuleBasedStateMachine):
    """Drives the engine with random operations; checks the invariants after each."""

    def __init__(self, engine, database, live, clock, empty_stores):
        super().__init__()
        empty_stores()
        self.engine, self.database, self.live, self.clock = engine, database, live, clock
        self.site = load_small_site(database)
        self.tokens: list[str] = []

    def attempt(self, operation, *arguments, **options):
        """Run an operation; a refusal is a fine outcome, anything else is a failure."""
        try:
            return operation(*arguments, **options)
        except TesseraError:
            return None

    @rule(services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3),
          language=st.sampled_from(["el", "en", "ar", "xx"]),
          priority=st.booleans(), key=st.none() | st.sampled_from(["k1", "k2"]))
    def issue(self, services, language, priority, key):
        ticket = self.attempt(self.engine.issue_ticket, self.site.id,
                              [self.site.services[s] for s in services], language,
                              ["priority"] if priority else [], idempotency_key=key)
        if ticket is not None:
            self.tokens.append(ticket.token)

    @rule(desk=st.sampled_from(DESKS), languages=st.sampled_from([None, ["el"], ["ar", "en"]]))
    def open_counter(self, desk, languages):
        self.attempt(self.engine.open_counter, self.site.counters[desk], languages=languages)

    @rule(desk=st.sampled_from(DESKS),
          action=st.sampled_from(["call_next", "call_next", "start", "finish", "no_show",
                                  "recall", "pause_counter", "resume_counter", "close_counter"]))
    def counter_action(self, desk, action):
        self.attempt(getattr(self.engine, action), self.site.counters[desk])

    @rule(desk=st.sampled_from(DESKS), service=st.sampled_from(SERVICES))
    def refer(self, desk, service):
        self.attempt(self.engine.refer, self.site.counters[desk], self.site.services[service])

    @rule(data=st.data())
    def cancel(self, data):
        if self.tokens:
            self.attempt(self.engine.cancel, data.draw(st.sampled_from(self.tokens)))

    @rule(minutes=st.integers(min_value=1, max_value=90))
    def time_passes(self, minutes):
        self.clock.advance(minutes=minutes)
        self.engine.close_ended_days()  # as the scheduler does each minute

    @rule()
    def redis_is_flushed(self):
        self.live.redis.flushdb()
        reconcile(self.database, self.live, now=self.clock())

    @invariant()
    def invariants_hold(self):
        with self.database.session() as session:
            steps = session.scalars(select(Step)).all()
            events = session.scalars(select(Event).where(Event.step_id.is_not(None))
                                     .order_by(Event.id)).all()
            numbers = session.execute(select(Ticket.service_day, Ticket.number)).all()
        assert len(numbers) == len(set(numbers))

        for service_id in self.site.services.values():
            in_redis = {int(m.split(b"|")[0]) for m in
                        self.live.redis.zrange(queue_key(self.site.id, service_id), 0, -1)}
            in_sql = {s.id for s in steps
                      if s.service_id == service_id and s.state == StepState.WAITING}
            assert in_redis == in_sql

        duties = self.live.redis.hgetall(counters_key(self.site.id))
        for counter_id in self.site.counters.values():
            active = [s.id for s in steps if s.counter_id == counter_id
                      and s.state in (StepState.CALLED, StepState.SERVING)]
            assert len(active) <= 1
            duty = duties.get(str(counter_id).encode())
            if duty is not None:
                assert (b'"step": null' in duty or b'"step":null' in duty) == (not active)

        last_kind, calls = {}, {}
        for event in events:
            last_kind[event.step_id] = event.kind
            if event.kind == "called":
                calls[event.step_id] = calls.get(event.step_id, 0) + 1
                assert calls[event.step_id] == 1, "called again without being returned"
            if event.kind == "returned":
                calls[event.step_id] -= 1
        for step in steps:
            if step.state == StepState.PLANNED:
                assert step.id not in last_kind
            else:
                assert STATE_AFTER[last_kind[step.id]] == step.state


@pytest.mark.slow
def test_random_operations_keep_the_invariants(engine, database, live, clock, empty_stores):
    run_state_machine_as_test(
        lambda: QueueMachine(engine, database, live, clock, empty_stores),
        settings=settings(max_examples=30, stateful_step_count=40, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow]),
    )
