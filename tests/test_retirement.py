"""Retiring a service or a desk safely, from /admin and from a reloaded site file: nobody
who waits is stranded, a called ticket goes back to its place."""

import datetime as dt

import pytest
from sqlalchemy import select

from tessera.errors import Conflict, InvalidInput
from tessera.models import (
    Appointment,
    AppointmentState,
    Counter,
    CounterStatus,
    Service,
    Step,
    StepState,
)
from tessera.sites.catalogue import catalogue
from tessera.sites.editing import begin_retiring
from tessera.sites.loader import SiteFileError, load_site, read_site_file
from tessera.sites.retirement import load_site_safely, retire_counter

from .helpers import SITES, audit_entries


def service_row(database, service_id):
    with database.session() as session:
        return session.get(Service, service_id)


def test_a_retiring_service_is_no_longer_issued_but_its_visitor_is_served(
        engine, database, site, admins, clock):
    certificates, registration = site.services["certificates"], site.services["registration"]
    earlier = engine.issue_ticket(site.id, [registration], "el")
    clock.advance(minutes=1)
    waiting = engine.issue_ticket(site.id, [certificates], "el")
    with database.session() as session:
        assert begin_retiring(session, admins["anna"], certificates, clock()) is False
    # At once: no ticket, no referral, not on the kiosk.
    with pytest.raises(InvalidInput):
        engine.issue_ticket(site.id, [certificates], "el")
    with database.session() as session:
        shown = [s["key"] for c in catalogue(session, site.id, "el")["categories"]
                 for s in c["services"]]
    assert "certificates" not in shown and "registration" in shown
    desk = site.counters["desk-1"]
    engine.open_counter(desk, admins["maria"].id)
    assert engine.call_next(desk).step.ticket.number == earlier.number
    engine.start(desk)
    with pytest.raises(InvalidInput) as referral:
        engine.refer(desk, certificates)
    assert referral.value.code == "service_retiring"
    engine.finish(desk)
    # The retiring service's visitor is still called and served; then it is retired.
    assert engine.call_next(desk).step.ticket.number == waiting.number
    engine.start(desk)
    assert service_row(database, certificates).retiring
    engine.finish(desk)
    retired = service_row(database, certificates)
    assert (retired.active, retired.retiring, retired.prefix) == (
        False, False, f"~{certificates}")
    entries = audit_entries(database, "service_retiring", "service_retired")
    assert [(kind, actor) for kind, actor, _ in entries] == [
        ("service_retiring", admins["anna"].id), ("service_retired", None)]
    assert entries[0][2]["before"]["retiring"] is False
    assert entries[0][2]["after"]["retiring"] is True
    assert entries[0][2]["open_steps"] == 1


def test_a_service_with_booked_appointments_is_not_retired(engine, database, site, admins,
                                                           clock):
    registration = site.services["registration"]
    with database.session() as session:
        session.add(Appointment(
            site_id=site.id, service_id=registration, start=clock() + dt.timedelta(days=2),
            end=clock() + dt.timedelta(days=2, minutes=20), seat=0, language="el",
            state=AppointmentState.BOOKED, code="K7Q2", token="appointment-token",
            created_at=clock()))
    with pytest.raises(Conflict) as refused, database.session() as session:
        begin_retiring(session, admins["anna"], registration, clock())
    assert refused.value.code == "appointments_booked"
    assert refused.value.details["appointments"] == ["K7Q2"]
    assert service_row(database, registration).offered
    assert audit_entries(database, "service_retiring") == []


def test_retiring_a_desk_puts_its_called_ticket_back_in_its_place(engine, database, site,
                                                                  admins, clock):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    registration = site.services["registration"]
    first = engine.issue_ticket(site.id, [registration], "el")
    clock.advance(minutes=2)
    second = engine.issue_ticket(site.id, [registration], "el")
    engine.open_counter(desk_1, admins["maria"].id)
    assert engine.call_next(desk_1).step.ticket.number == first.number
    retire_counter(engine, admins["anna"], desk_1)
    with database.session() as session:
        desk = session.get(Counter, desk_1)
        assert (desk.active, desk.status) == (False, CounterStatus.CLOSED)
        step = session.scalars(select(Step).where(Step.ticket_id == first.id)).one()
        assert (step.state, step.counter_id) == (StepState.WAITING, None)
    # Another desk calls it, before the visitor who came later.
    engine.open_counter(desk_2)
    assert engine.call_next(desk_2).step.ticket.number == first.number
    (entry,) = audit_entries(database, "counter_retired")
    assert entry[1] == admins["anna"].id
    assert entry[2]["returned_ticket"] == first.number
    assert entry[2]["before"]["active"] is True and entry[2]["after"]["active"] is False
    assert second.number != first.number


def test_a_desk_is_not_retired_while_it_would_strand_visitors_or_serves_one(
        engine, database, site, admins):
    desk_3, desk_1 = site.counters["desk-3"], site.counters["desk-1"]
    engine.issue_ticket(site.id, [site.services["legal_advice"]], "el")
    with pytest.raises(Conflict) as refused:
        retire_counter(engine, admins["anna"], desk_3)  # the only desk of legal advice
    assert refused.value.code == "visitors_stranded"
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_1, admins["maria"].id)
    engine.call_next(desk_1)
    engine.start(desk_1)
    with pytest.raises(Conflict) as busy:
        retire_counter(engine, admins["anna"], desk_1)
    assert busy.value.code == "counter_busy"
    with database.session() as session:
        assert all(session.get(Counter, desk).active for desk in (desk_1, desk_3))
    assert audit_entries(database, "counter_retired") == []


def test_a_reloaded_site_file_retires_what_it_removes_safely(engine, database, site, admins,
                                                             clock):
    document = read_site_file(SITES / "small.yaml")
    legal, desk_1 = site.services["legal_advice"], site.counters["desk-1"]
    waiting = engine.issue_ticket(site.id, [legal], "el")
    clock.advance(minutes=1)
    called = engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_1, admins["maria"].id)
    engine.call_next(desk_1)
    # Dropping desk-3 too would leave the legal visitor with no desk: refused, unchanged.
    stranding = {**document, "services": {k: v for k, v in document["services"].items()
                                          if k != "legal_advice"},
                 "counters": {k: v for k, v in document["counters"].items() if k != "desk-3"}}
    with pytest.raises(SiteFileError, match="legal_advice"):
        load_site_safely(engine, stranding)
    assert service_row(database, legal).offered
    # Dropping the service and desk-1 (which has a ticket called): both retire safely.
    del document["services"]["legal_advice"]
    document["counters"]["desk-3"]["services"] = ["registration"]
    del document["counters"]["desk-1"]
    outcome = load_site_safely(engine, document)
    assert outcome == {"retiring_services": ["legal_advice"], "desks_not_retired": {}}
    with pytest.raises(InvalidInput):
        engine.issue_ticket(site.id, [legal], "el")
    with database.session() as session:
        assert not session.get(Counter, desk_1).active
        step = session.scalars(select(Step).where(Step.ticket_id == called.id)).one()
        assert step.state == StepState.WAITING
        # desk-3 keeps the retiring service until its visitor is served.
        assert {s.key for s in session.get(Counter, site.counters["desk-3"]).services} == {
            "registration", "legal_advice"}
    desk_3 = site.counters["desk-3"]
    engine.open_counter(desk_3, admins["leila"].id)
    assert engine.call_next(desk_3).step.ticket.number == waiting.number
    engine.start(desk_3)
    engine.finish(desk_3)
    assert not service_row(database, legal).active
    assert engine.call_next(desk_3).step.ticket.number == called.number
    # Loading the same file again changes nothing more.
    with database.session() as session:
        load_site(session, document)
    assert [kind for kind, _actor, _data in audit_entries(
        database, "service_retiring", "service_retired", "counter_retired")] == [
        "service_retiring", "counter_retired", "service_retired"]
