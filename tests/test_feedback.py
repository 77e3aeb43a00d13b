"""Visitors' feedback: the rules of giving it (once, after the visit), and its API."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Event, Feedback
from tessera.reports.feedback import REASONS, give_feedback, scores_by_ticket

from .helpers import kiosk_headers


def issue(engine, site, *services, language="en"):
    """A walk-in ticket at the small site for services given by key."""
    return engine.issue_ticket(site.id, [site.services[key] for key in services], language)


def served(engine, site, desk="desk-1", service="registration"):
    """A ticket whose visit has ended: called, served and finished at `desk`."""
    ticket = issue(engine, site, service)
    counter = site.counters[desk]
    engine.open_counter(counter)
    engine.call_next(counter)
    engine.start(counter)
    engine.finish(counter)
    return ticket


def feedback_rows(database) -> int:
    """How many feedback rows SQL holds."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Feedback))


def feedback_events(database) -> list[Event]:
    """The feedback_given events, in order."""
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.kind == "feedback_given")
                                    .order_by(Event.id)))


# The domain --------------------------------------------------------------------------

def test_feedback_after_the_visit_is_stored_with_its_event(engine, site, database, clock):
    ticket = served(engine, site)
    given = give_feedback(database, ticket.token, 4, ["short_wait", "kind_staff"], clock())
    assert (given.score, given.reasons, given.source) == (4, ["short_wait", "kind_staff"],
                                                          "ticket")
    with database.session() as session:
        row = session.scalars(select(Feedback)).one()
        assert (row.ticket_id, row.site_id, row.given_at) == (ticket.id, site.id, clock())
    [event] = feedback_events(database)
    # Score and reasons only: nothing about the visitor.
    assert event.ticket_id == ticket.id and event.at == clock()
    assert event.data == {"score": 4, "reasons": ["short_wait", "kind_staff"]}


def test_feedback_in_the_callers_transaction(engine, site, database, clock):
    ticket = served(engine, site)
    with database.session() as session:
        give_feedback(session, ticket.token, 5, [], clock(), source="kiosk")
    with database.session() as session:
        assert session.scalars(select(Feedback.source)).one() == "kiosk"


def test_an_unknown_ticket_is_not_found(engine, site, database, clock):
    with pytest.raises(NotFound):
        give_feedback(database, "no-such-token", 3, [], clock())


@pytest.mark.parametrize("ending", ["waiting", "called", "serving", "planned"])
def test_feedback_is_refused_before_the_visit_ends(engine, site, database, clock, ending):
    counter = site.counters["desk-1"]
    if ending == "planned":
        # The first service is done; the second is next, so the visit goes on.
        ticket = issue(engine, site, "registration", "legal_advice")
    else:
        ticket = issue(engine, site, "registration")
    engine.open_counter(counter)
    if ending != "waiting":
        engine.call_next(counter)
    if ending in ("serving", "planned"):
        engine.start(counter)
    if ending == "planned":
        engine.finish(counter)
    with pytest.raises(Conflict) as refused:
        give_feedback(database, ticket.token, 3, [], clock())
    assert refused.value.code == "visit_not_ended"
    assert feedback_rows(database) == 0 and feedback_events(database) == []


@pytest.mark.parametrize("ending", ["cancelled", "no_show", "referred_to_end"])
def test_every_ending_of_a_visit_takes_feedback(engine, site, database, clock, ending):
    counter = site.counters["desk-1"]
    ticket = issue(engine, site, "registration")
    engine.open_counter(counter)
    if ending == "cancelled":
        engine.cancel(ticket.token)
    elif ending == "no_show":
        engine.call_next(counter)
        engine.no_show(counter)
    else:
        engine.call_next(counter)
        engine.start(counter)
        engine.refer(counter, site.services["legal_advice"])
        desk = site.counters["desk-3"]
        engine.open_counter(desk)
        engine.call_next(desk)
        engine.start(desk)
        engine.finish(desk)
    assert give_feedback(database, ticket.token, 2, ["long_wait"], clock()).score == 2


def test_an_expired_visit_takes_feedback(engine, site, database, clock):
    ticket = issue(engine, site, "registration")
    engine.close_day(site.id)
    assert give_feedback(database, ticket.token, 1, ["not_solved"], clock()).score == 1


def test_feedback_is_given_once(engine, site, database, clock):
    ticket = served(engine, site)
    give_feedback(database, ticket.token, 5, [], clock())
    with pytest.raises(Conflict) as refused:
        give_feedback(database, ticket.token, 1, [], clock())
    assert refused.value.code == "feedback_given"
    assert feedback_rows(database) == 1 and len(feedback_events(database)) == 1


@pytest.mark.slow
def test_of_two_at_once_exactly_one_wins(engine, site, database, clock):
    ticket = served(engine, site)
    start = threading.Barrier(2)
    outcomes = []

    def give(score):
        start.wait()
        try:
            give_feedback(database, ticket.token, score, [], clock())
            outcomes.append("stored")
        except Conflict as refused:
            outcomes.append(refused.code)
        except BaseException as error:  # reported by the test, not lost in a thread
            outcomes.append(repr(error))

    threads = [threading.Thread(target=give, args=(score,)) for score in (2, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["feedback_given", "stored"]
    assert feedback_rows(database) == 1 and len(feedback_events(database)) == 1


@pytest.mark.parametrize(("score", "reasons", "code"), [
    (0, [], "invalid_score"), (6, [], "invalid_score"), (True, [], "invalid_score"),
    (3.0, [], "invalid_score"), ("3", [], "invalid_score"), (None, [], "invalid_score"),
    (3, ["rude_weather"], "invalid_reasons"), (3, "short_wait", "invalid_reasons"),
    (3, [1], "invalid_reasons"), (3, ["short_wait", "short_wait"], "invalid_reasons"),
])
def test_bad_scores_and_reasons_are_refused(engine, site, database, clock, score, reasons,
                                            code):
    ticket = served(engine, site)
    with pytest.raises(InvalidInput) as refused:
        give_feedback(database, ticket.token, score, reasons, clock())
    assert refused.value.code == code
    assert feedback_rows(database) == 0 and feedback_events(database) == []


def test_an_unknown_source_is_refused(engine, site, database, clock):
    ticket = served(engine, site)
    with pytest.raises(InvalidInput):
        give_feedback(database, ticket.token, 3, [], clock(), source="email")


def test_scores_by_ticket_follow_the_service_day(engine, site, database, clock):
    first = served(engine, site)
    give_feedback(database, first.token, 4, ["kind_staff"], clock())
    clock.advance(days=1)
    second = served(engine, site)
    give_feedback(database, second.token, 2, [], clock())
    day = first.service_day
    with database.session() as session:
        assert scores_by_ticket(session, site.id, day, day) == {first.id: 4}
        assert scores_by_ticket(session, site.id, day, day + dt.timedelta(days=1)) == {
            first.id: 4, second.id: 2}
        assert scores_by_ticket(session, site.id, day + dt.timedelta(days=1),
                                day + dt.timedelta(days=2)) == {second.id: 2}
        assert scores_by_ticket(session, "elsewhere", day, day + dt.timedelta(days=1)) == {}


# The API -----------------------------------------------------------------------------

def test_the_api_round_trip(client, engine, site, database):
    ticket = served(engine, site)
    response = client.post(f"/api/v1/tickets/{ticket.token}/feedback",
                           json={"score": 5, "reasons": ["my_language", "problem_solved"]})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["ticket"] == ticket.number and body["source"] == "ticket"
    assert (body["score"], body["reasons"]) == (5, ["my_language", "problem_solved"])
    assert body["given_at"].endswith("+02:00")  # in Athens' time
    again = client.post(f"/api/v1/tickets/{ticket.token}/feedback", json={"score": 1})
    assert again.status_code == 409 and again.json["error"]["code"] == "feedback_given"
    assert feedback_rows(database) == 1


def test_the_api_refuses_as_the_domain_does(client, engine, site):
    waiting = issue(engine, site, "registration")
    url = f"/api/v1/tickets/{waiting.token}/feedback"
    early = client.post(url, json={"score": 3})
    assert early.status_code == 409 and early.json["error"]["code"] == "visit_not_ended"
    assert client.post("/api/v1/tickets/nope/feedback", json={"score": 3}).status_code == 404
    for body, code in [({"score": 9}, "invalid_score"), ({"score": True}, "invalid_score"),
                       ({}, "invalid_score"), ({"score": 3, "reasons": ["x"]},
                                               "invalid_reasons"),
                       ({"score": 3, "reasons": ["long_wait", "long_wait"]},
                        "invalid_reasons"),
                       ({"score": 3, "comment": "hello"}, "invalid_body")]:
        refused = client.post(url, json=body)
        assert refused.status_code == 422, body
        assert refused.json["error"]["code"] == code, body
    not_json = client.post(url, data="score=3", content_type="text/plain")
    assert not_json.status_code == 422


def test_a_paired_kiosk_gives_kiosk_feedback(client, engine, site, database):
    ticket = served(engine, site)
    response = client.post(f"/api/v1/tickets/{ticket.token}/feedback", json={"score": 4},
                           headers=kiosk_headers(client, site.id))
    assert response.status_code == 201 and response.json["source"] == "kiosk"


def test_feedback_is_rate_limited_per_address(make_client, redis_client, engine, site):
    client = make_client(RATELIMIT_ENABLED=True, FEEDBACK_LIMIT_PER_ADDRESS="2/minute")
    codes = [client.post("/api/v1/tickets/nope/feedback", json={"score": 3}).status_code
             for _ in range(3)]
    assert codes == [404, 404, 429]


def test_the_reasons_in_the_document_are_the_domain_s(client):
    document = client.get("/api/v1/openapi.json").json
    schema = document["components"]["schemas"]["FeedbackRequest"]
    assert tuple(schema["properties"]["reasons"]["items"]["enum"]) == REASONS


# The kiosk's feedback terminal -------------------------------------------------------

def test_the_terminal_finds_today_s_ended_ticket_by_its_number(client, engine, site, clock):
    from .helpers import pair_client

    url = "/kiosk/small/entrance/en/feedback"
    assert client.get(url).status_code == 403  # not paired: staff must pair it first
    pair_client(client, site.id)
    ticket = served(engine, site)
    assert client.get(url).status_code == 200
    for typed in (ticket.number, "a1", " A 001 ", f"http://oss.example/t/{ticket.token}"):
        page = client.get(url, query_string={"ticket": typed})
        assert page.status_code == 200, typed
        assert f"/api/v1/tickets/{ticket.token}/feedback" in page.text
    for typed in ("B-001", "hello", "x" * 400):
        assert client.get(url, query_string={"ticket": typed}).status_code == 422, typed
    # Numbers start again every day: yesterday's A-001 is not today's.
    clock.advance(days=1)
    assert client.get(url, query_string={"ticket": ticket.number}).status_code == 422
