"""Report figures from the event log, on a small hand-made history with known answers."""

import datetime as dt

import pytest

from tessera.reports.figures import percentile, report

from .helpers import sign_in

DAY = dt.date(2026, 11, 23)


def make_history(engine, site, clock):
    """Four visits on Monday 2026-11-23 (Athens, UTC+2), each with known waits and ends.

    1. el, registration: waits 6, served 5 at desk 1 (el, en), referred to legal advice;
       waits 10 there, served 20 at desk 3 (el, en, ar), finished.
    2. ar, registration: waits 40 (target 30), called at desk 1, no-show.
    3. en, certificates: leaves (cancels) after 3 minutes, never called.
    4. el, registration: waits 2, recalled once, served 9 at desk 1, finished.
    """
    desk1, desk3 = site.counters["desk-1"], site.counters["desk-3"]
    registration = site.services["registration"]
    engine.open_counter(desk1)
    engine.open_counter(desk3)
    engine.issue_ticket(site.id, [registration], "el")
    clock.advance(minutes=6)
    engine.call_next(desk1)
    engine.start(desk1)
    clock.advance(minutes=5)
    engine.refer(desk1, site.services["legal_advice"])
    clock.advance(minutes=10)
    engine.call_next(desk3)
    engine.start(desk3)
    clock.advance(minutes=20)
    engine.finish(desk3)

    engine.issue_ticket(site.id, [registration], "ar")
    clock.advance(minutes=40)
    engine.call_next(desk1)
    engine.no_show(desk1)

    leaving = engine.issue_ticket(site.id, [site.services["certificates"]], "en")
    clock.advance(minutes=3)
    engine.cancel(leaving.token)

    engine.issue_ticket(site.id, [registration], "el")
    clock.advance(minutes=2)
    engine.call_next(desk1)
    engine.recall(desk1)
    clock.advance(minutes=1)
    engine.start(desk1)
    clock.advance(minutes=9)
    engine.finish(desk1)


def by_key(result):
    return {row["key"]: row for row in result["groups"]}


def run(engine, site, group, **filters):
    with engine.database.session() as session:
        return report(session, site.id, DAY, DAY, group, label_language="en", **filters)


def test_percentile_is_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([4, 1, 3, 2], 0.5) == 2
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([7], 0.9) == 7


def test_figures_per_service(engine, site, clock):
    make_history(engine, site, clock)
    rows = by_key(run(engine, site, "service"))
    registration = rows[site.services["registration"]]
    assert registration["label"] == "Registration"
    assert registration["visits"] == 3
    assert registration["served"] == 2  # referred on and finished both count as served
    assert registration["referrals"] == 1
    assert registration["no_shows"] == 1 and registration["no_show_rate"] == pytest.approx(0.333)
    assert registration["left"] == 0
    # Waits 6, 40, 2: mean 16, median 6, p90 (nearest rank of 3) 40; 2 of 3 within 30.
    assert registration["mean_wait_minutes"] == 16.0
    assert registration["median_wait_minutes"] == 6.0
    assert registration["p90_wait_minutes"] == 40.0
    assert registration["within_target"] == pytest.approx(0.667)
    # Handling 5 and 9 (the recall does not restart the wait nor the handling).
    assert registration["mean_handling_minutes"] == 7.0
    assert registration["in_language"] == 1.0  # both el, at a desk open in el

    legal = rows[site.services["legal_advice"]]
    assert (legal["visits"], legal["served"], legal["referrals"]) == (1, 1, 0)
    assert legal["mean_wait_minutes"] == 10.0 and legal["mean_handling_minutes"] == 20.0

    certificates = rows[site.services["certificates"]]
    assert (certificates["visits"], certificates["left"], certificates["served"]) == (1, 1, 0)
    assert certificates["mean_wait_minutes"] is None and certificates["within_target"] is None


def test_totals_and_groups_by_language_hour_day_organisation(engine, site, clock):
    make_history(engine, site, clock)
    result = run(engine, site, "language")
    total = result["total"]
    assert (total["visits"], total["served"], total["no_shows"], total["left"],
            total["referrals"]) == (4, 3, 1, 1, 1)
    assert total["in_language"] == 1.0
    languages = by_key(result)
    assert languages["el"]["visits"] == 2 and languages["el"]["served"] == 3
    assert languages["ar"]["no_shows"] == 1 and languages["ar"]["in_language"] is None
    assert languages["en"]["left"] == 1

    organisations = by_key(run(engine, site, "organisation"))
    assert sorted(row["label"] for row in organisations.values()) == ["Legal aid",
                                                                      "Municipality"]
    assert sum(row["visits"] for row in organisations.values()) == 5  # visit 1 is in both

    # Arrivals at 10:00, 10:41, 11:21 and 11:24 Athens time.
    hours = by_key(run(engine, site, "hour"))
    assert {key: row["visits"] for key, row in hours.items()} == {10: 2, 11: 2}
    assert hours[10]["label"] == "10:00"
    assert by_key(run(engine, site, "day"))["2026-11-23"]["visits"] == 4


def test_filters_by_service_organisation_and_language(engine, site, clock):
    make_history(engine, site, clock)
    legal = next(row for row in run(engine, site, "organisation")["groups"]
                 if row["label"] == "Legal aid")["key"]
    only_legal = run(engine, site, "service", organisation_ids={legal})
    assert [row["key"] for row in only_legal["groups"]] == [site.services["legal_advice"]]
    assert only_legal["total"]["visits"] == 1
    certificates = run(engine, site, "service", service_ids={site.services["certificates"]})
    assert certificates["total"]["left"] == 1 and certificates["total"]["visits"] == 1
    arabic = run(engine, site, "service", language="ar")
    assert arabic["total"]["visits"] == 1 and arabic["total"]["no_shows"] == 1


def test_an_undone_finish_is_not_counted_twice(engine, site, clock):
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.call_next(desk)
    engine.start(desk)
    clock.advance(minutes=4)
    engine.finish(desk)
    engine.undo(desk)
    clock.advance(minutes=3)
    engine.finish(desk)
    total = run(engine, site, "service")["total"]
    assert total["served"] == 1 and total["mean_handling_minutes"] == 7.0


def test_days_across_the_daylight_saving_change(engine, site, clock):
    """Athens leaves summer time on Sunday 2026-10-25: 00:30 local is 21:30 UTC before
    and 22:30 UTC after, and each belongs to its own local day and to hour 0."""
    desk = site.counters["desk-1"]
    for moment in (dt.datetime(2026, 10, 23, 21, 30), dt.datetime(2026, 10, 25, 22, 30)):
        clock.now = moment
        engine.open_counter(desk)
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
        clock.advance(minutes=5)
        engine.call_next(desk)
        engine.start(desk)
        clock.advance(minutes=5)
        engine.finish(desk)
        engine.close_counter(desk)
    with engine.database.session() as session:
        days = report(session, site.id, dt.date(2026, 10, 24), dt.date(2026, 10, 26), "day")
        hours = report(session, site.id, dt.date(2026, 10, 24), dt.date(2026, 10, 26), "hour")
    assert {row["key"]: row["visits"] for row in days["groups"]} == {"2026-10-24": 1,
                                                                     "2026-10-26": 1}
    assert {row["key"]: row["visits"] for row in hours["groups"]} == {0: 2}


def test_api_for_managers_and_organisation_staff(engine, site, clock, client, make_client,
                                                 staff):
    make_history(engine, site, clock)
    url = f"/api/v1/sites/{site.id}/reports?from=2026-11-23&to=2026-11-23"
    assert client.get(url).status_code == 401
    sign_in(client, "kostas")
    answer = client.get(url + "&group=service")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["group"] == "service" and body["total"]["visits"] == 4
    for row in body["groups"]:
        for name in ("visits", "served", "no_shows", "left", "referrals", "mean_wait_minutes",
                     "p90_wait_minutes", "within_target", "in_language",
                     "mean_handling_minutes"):
            assert name in row
    legal_staff = make_client()
    sign_in(legal_staff, "leila")  # legal aid staff: legal advice only
    body = legal_staff.get(url + "&group=service").get_json()
    assert [row["key"] for row in body["groups"]] == [site.services["legal_advice"]]
    assert body["total"]["visits"] == 1


@pytest.mark.parametrize("query, code", [
    ("from=2026-11-23&to=23-11-2026", "invalid_date"),
    ("to=2026-11-23", "invalid_date"),
    ("from=2026-11-24&to=2026-11-23", "invalid_range"),
    ("from=2025-01-01&to=2026-11-23", "invalid_range"),
    ("from=2026-11-23&to=2026-11-23&group=year", "invalid_group"),
    ("from=2026-11-23&to=2026-11-23&service=x", "invalid_input"),
])
def test_api_refuses_bad_parameters(client, site, staff, query, code):
    sign_in(client, "kostas")
    answer = client.get(f"/api/v1/sites/{site.id}/reports?{query}")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == code


def test_feedback_scores_count_each_visit_once_per_group(engine, site, clock):
    from sqlalchemy import select

    from tessera.models import Ticket
    from tessera.reports.feedback import give_feedback

    make_history(engine, site, clock)
    with engine.database.session() as session:
        tokens = list(session.scalars(select(Ticket.token).order_by(Ticket.id)))
    for token, score in zip(tokens, (5, 1, None, 3), strict=True):
        if score is not None:
            give_feedback(engine.database, token, score, [], clock())
    services = by_key(run(engine, site, "service"))
    registration = services[site.services["registration"]]
    assert (registration["feedback_count"], registration["mean_feedback_score"]) == (3, 3.0)
    legal = services[site.services["legal_advice"]]
    assert (legal["feedback_count"], legal["mean_feedback_score"]) == (1, 5.0)
    certificates = services[site.services["certificates"]]
    assert (certificates["feedback_count"], certificates["mean_feedback_score"]) == (0, None)
    total = run(engine, site, "language")
    assert (total["total"]["feedback_count"], total["total"]["mean_feedback_score"]) == (3, 3.0)
    assert by_key(total)["el"]["mean_feedback_score"] == 4.0
    organisation = run(engine, site, "organisation", language="ar")["total"]
    assert (organisation["feedback_count"], organisation["mean_feedback_score"]) == (1, 1.0)


def book_demo_appointment(database, clock, slot, language="ar", made=False):
    """Book legal advice at the demo centre at `slot` (naive UTC), now; the slot, or the
    appointment's (code, token) if `made`."""
    from tessera.appointments.booking import book

    with database.session() as session:
        appointment = book(session, "demo", "legal_advice", slot, language, None, clock())
        session.flush()
        return (appointment.code, appointment.token) if made else slot


def book_demo_appointments(database, engine, clock) -> None:
    """At the demo centre, three bookings of legal advice on DAY at 11:00, 12:00 and 13:00
    in Athens: one checked in 10 minutes early, one missed, one cancelled."""
    from tessera.appointments.booking import cancel
    from tessera.appointments.checkin import CheckInWindow, check_in, mark_missed
    from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
    slot = dt.datetime(2026, 11, 23, 9, 0)
    made = [book_demo_appointment(database, clock, slot + dt.timedelta(hours=hours), language,
                                  made=True)
            for hours, language in enumerate(("ar", "fa", "en"))]
    with database.session() as session:
        cancel(session, made[2][1], clock())
    clock.now = slot - dt.timedelta(minutes=10)
    window = CheckInWindow(early_minutes=30, late_minutes=15)
    check_in(engine, "demo", made[0][0], clock(), window)
    clock.now = slot + dt.timedelta(hours=2)
    mark_missed(database, clock(), window)


def test_appointments_join_the_visits_in_each_group(database, engine, clock):
    book_demo_appointments(database, engine, clock)
    with database.session() as session:
        result = report(session, "demo", DAY, DAY, "service", label_language="en")
    [row] = [row for row in result["groups"] if row["appointments_booked"]]
    assert row["label"] == "Legal advice" and row["visits"] == 1  # the checked-in visit
    assert (row["appointments_booked"], row["appointments_checked_in"],
            row["appointments_missed"], row["appointments_cancelled"]) == (3, 1, 1, 1)
    assert (row["mean_punctuality_minutes"], row["on_time"], row["check_in_rate"]) == \
        (-10.0, 1.0, 0.5)
    assert result["total"]["appointments_booked"] == 3
