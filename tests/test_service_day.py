"""A day in the life of a centre: opening hours at the kiosk and when issuing."""

import pytest

from tessera.errors import Conflict
from tessera.models import Site

WEEKDAYS_NINE_TO_FIVE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def office_hours(database, site):
    """The small centre open 09:00-17:00 on weekdays, with walk-in tickets until 16:45."""
    with database.session() as session:
        row = session.get(Site, site.id)
        row.opening_hours, row.walk_in_stop_minutes = WEEKDAYS_NINE_TO_FIVE, 15
    return site


def test_walk_in_tickets_only_while_open(engine, office_hours, clock):
    registration = [office_hours.services["registration"]]
    assert engine.issue_ticket(office_hours.id, registration, "el").number == "A-001"
    clock.now = clock.now.replace(hour=14, minute=50)  # 16:50 in Athens, 10 minutes to close
    with pytest.raises(Conflict) as refused:
        engine.issue_ticket(office_hours.id, registration, "el")
    assert refused.value.code == "closed"
    assert refused.value.details == {"opens_at": "2026-11-24T09:00:00+02:00"}
    assert "Tue, November 24" in refused.value.message and "9:00" in refused.value.message


def test_issuing_outside_hours_answers_409_with_the_next_opening(client, office_hours, clock):
    clock.now = clock.now.replace(day=28)  # Saturday
    response = client.post(f"/api/v1/sites/{office_hours.id}/tickets",
                           json={"services": [office_hours.services["registration"]],
                                 "language": "el"}, headers={"Accept-Language": "fr"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "closed" and error["opens_at"] == "2026-11-30T09:00:00+02:00"
    assert error["message"].startswith("Le centre est fermé") and "30 novembre" in error["message"]


def test_a_replayed_issue_after_closing_returns_the_ticket(engine, office_hours, clock):
    registration = [office_hours.services["registration"]]
    first = engine.issue_ticket(office_hours.id, registration, "el", idempotency_key="tap-1")
    clock.now = clock.now.replace(hour=20)
    again = engine.issue_ticket(office_hours.id, registration, "el", idempotency_key="tap-1")
    assert again.id == first.id


def test_the_kiosk_says_it_is_closed_in_every_language(client, office_hours, clock):
    open_page = client.get(f"/kiosk/{office_hours.id}/entrance")
    assert "closed-notice" not in open_page.text and "language-grid" in open_page.text
    clock.now = clock.now.replace(hour=18)  # 20:00 in Athens
    page = client.get(f"/kiosk/{office_hours.id}/entrance").text
    assert "closed-notice" in page and "language-grid" not in page
    assert 'http-equiv="refresh"' in page
    assert "It opens again on Tue, November 24 at 9:00" in page      # English
    assert 'lang="ar" dir="rtl"' in page                              # Arabic, right to left
