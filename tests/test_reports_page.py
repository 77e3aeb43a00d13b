"""The manager's reports page over HTTP: who may see it, what it shows, its exports."""

from tessera.staff.accounts import create_staff

from .helpers import PASSWORD, sign_in
from .test_reports import book_demo_appointments, make_history

RANGE = "from=2026-11-23&to=2026-11-23"


def test_managers_see_every_service_and_the_exports(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "kostas")
    page = client.get(f"/manager/reports?{RANGE}&group=service")
    assert page.status_code == 200
    text = page.text
    assert "Εγγραφή" in text or "Registration" in text
    assert "format=csv" in text and "format=xlsx" in text and "reports/events" in text
    assert "<script>" not in text and " style=" not in text and "onclick" not in text
    assert "vendor/echarts.min.js" in text


def test_organisation_staff_see_their_services_only(engine, site, clock, client, staff):
    make_history(engine, site, clock)
    sign_in(client, "leila")
    text = client.get(f"/manager/reports?{RANGE}").text
    assert "reports/events" not in text
    assert "Εγγραφή" not in text and "Registration" not in text


def test_bad_dates_fall_back_with_a_message(site, client, staff):
    sign_in(client, "kostas")
    page = client.get("/manager/reports?from=yesterday&group=nonsense")
    assert page.status_code == 200 and 'role="alert"' in page.text


def test_signed_out_is_sent_to_sign_in(site, client):
    assert client.get("/manager/reports").status_code in (302, 401)


def test_appointments_have_their_own_table_once_there_are_any(database, engine, clock, client,
                                                              make_client, site, staff):
    sign_in(client, "kostas")
    assert "data-appointment-table" not in client.get(f"/manager/reports?{RANGE}").text
    book_demo_appointments(database, engine, clock)
    with database.session() as session:
        create_staff(session, "demo", "eleni", "Eleni", "manager", ["en"], [], PASSWORD)
    demo_manager = make_client()
    sign_in(demo_manager, "eleni")
    text = demo_manager.get(f"/manager/reports?{RANGE}&group=language").text
    assert "data-appointment-table" in text and 'data-figure="appointments_booked"' in text
