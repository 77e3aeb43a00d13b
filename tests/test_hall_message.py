"""The hall message: a line a manager sets from /manager for every display of the site."""

import re

import pytest
from sqlalchemy import select

from tessera.errors import InvalidInput, NotFound
from tessera.models import HALL_MESSAGE_MAX, Event, Site
from tessera.sites.hall_message import clean_message, hall_message, set_hall_message
from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token

from .helpers import PASSWORD, sign_in

API = "/api/v1"


def heard(engine) -> list:
    """Make the engine keep what it publishes; the list it keeps it in."""
    published = []
    engine.publish = lambda event, payload, rooms: published.append((event, payload, rooms))
    return published


def events(database, site_id: str) -> list[Event]:
    with database.session() as session:
        return session.scalars(select(Event).where(Event.site_id == site_id,
                                                   Event.kind == "hall_message_set")
                               .order_by(Event.id)).all()


# The domain ---------------------------------------------------------------------------

def test_setting_keeps_it_in_sql_with_an_event_and_tells_every_display(engine, site, database,
                                                                       staff, clock):
    published = heard(engine)
    kept = set_hall_message(engine, site.id, "  Desk 3 has moved to the ground floor.  ",
                            staff["kostas"].id)
    assert kept == "Desk 3 has moved to the ground floor."
    assert hall_message(engine, site.id) == kept
    [event] = events(database, site.id)
    assert event.data == {"message": kept} and event.staff_id == staff["kostas"].id
    assert event.at == clock()
    # A hint to the hall, each zone's displays and the staff: they re-read the queues.
    [(name, payload, rooms)] = published
    assert name == "queue_changed" and payload == {"site": site.id}
    assert set(rooms) == {"site:small", "site:small:upstairs", "staff:small"}


@pytest.mark.parametrize("cleared", [None, "", "   ", "\n\t", "\x00\x07"])
def test_nothing_but_spaces_clears_it(engine, site, database, cleared):
    set_hall_message(engine, site.id, "Closed at 14:00 today")
    assert set_hall_message(engine, site.id, cleared) is None
    assert hall_message(engine, site.id) is None
    assert [event.data["message"] for event in events(database, site.id)] == [
        "Closed at 14:00 today", None]


def test_control_characters_go_and_the_text_stays_as_typed():
    assert clean_message("Κλειστό\x00 αύριο\r\n<b>today</b>\x1b[31m") == \
        "Κλειστό αύριο <b>today</b>[31m"  # plain text: escaped where it is shown
    # Letters of every script, and the joiners Persian needs, are kept as they are.
    assert clean_message("دفتر ۳ به طبقه\u200cی همکف رفت") == "دفتر ۳ به طبقه\u200cی همکف رفت"
    assert clean_message("a" * HALL_MESSAGE_MAX) == "a" * HALL_MESSAGE_MAX
    assert clean_message(" " + "a" * HALL_MESSAGE_MAX + " \n") == "a" * HALL_MESSAGE_MAX


def test_a_message_too_long_changes_nothing(engine, site, database):
    set_hall_message(engine, site.id, "Closed at 14:00 today")
    with pytest.raises(InvalidInput) as refused:
        set_hall_message(engine, site.id, "a" * (HALL_MESSAGE_MAX + 1))
    assert refused.value.code == "message_too_long"
    assert hall_message(engine, site.id) == "Closed at 14:00 today"
    assert len(events(database, site.id)) == 1


def test_an_unknown_site_is_not_found(engine, site):
    with pytest.raises(NotFound):
        set_hall_message(engine, "nowhere", "Closed")


# The API -------------------------------------------------------------------------------

def csrf_token(client) -> str:
    """The CSRF token of the signed-in client's manager page."""
    return re.search(r'data-csrf-token="([^"]+)"', client.get("/manager").text)[1]


def test_managers_set_and_clear_it(client, site, staff):
    sign_in(client, "kostas")
    headers = {"X-CSRFToken": csrf_token(client)}
    url = f"{API}/sites/{site.id}/hall-message"
    answer = client.put(url, json={"message": " Desk 3 moved\nupstairs "}, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json() == {"site": site.id, "message": "Desk 3 moved upstairs"}
    # The displays read it with the queues, and the hall page carries it from the start.
    assert client.get(f"{API}/sites/{site.id}/queues").get_json()["hall_message"] == \
        "Desk 3 moved upstairs"
    assert "Desk 3 moved upstairs" in client.get(f"/display/{site.id}").text
    assert 'value="Desk 3 moved upstairs"' in client.get("/manager").text

    cleared = client.put(url, json={"message": ""}, headers=headers)
    assert cleared.status_code == 200 and cleared.get_json()["message"] is None
    assert client.put(url, json={"message": None}, headers=headers).status_code == 200
    assert client.get(f"{API}/sites/{site.id}/queues").get_json()["hall_message"] is None
    page = client.get(f"/display/{site.id}").text
    assert re.search(r"<p class=\"hall-message\"[^>]*\bhidden>", page)


def test_it_is_shown_escaped(client, site, staff, engine):
    set_hall_message(engine, site.id, '<script>alert("x")</script> & <b>closed</b>')
    page = client.get(f"/display/{site.id}").text
    assert "<script>alert" not in page and "<b>closed</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;closed&lt;/b&gt;" \
        in page
    sign_in(client, "kostas")
    assert "&lt;b&gt;closed&lt;/b&gt;" in client.get("/manager").text


def test_only_the_sites_managers_may_set_it(client, make_client, site, staff, database):
    url = f"{API}/sites/{site.id}/hall-message"
    assert client.put(url, json={"message": "Closed"}).status_code == 401
    sign_in(client, "maria")  # staff, not a manager
    refused = client.put(url, json={"message": "Closed"},
                         headers={"X-CSRFToken": csrf_token_of_any_page(client)})
    assert refused.status_code == 403 and "error" in refused.get_json()

    with database.session() as session:
        session.add(Site(id="other", name={"en": "Other"}, timezone="Europe/Athens",
                         language="en", languages=["en"]))
        session.flush()
        elsewhere, _ = create_staff(session, "other", "eleni", "Eleni", "manager", ["en"], [],
                                    PASSWORD)
        token = issue_token(session, elsewhere, "test")
    other = {"Authorization": f"Bearer {token}"}
    assert client.put(url, json={"message": "Closed"}, headers=other).status_code == 403
    assert client.put(f"{API}/sites/nowhere/hall-message", json={"message": "Closed"},
                      headers=other).status_code == 403
    # Their own site's is theirs.
    assert client.put(f"{API}/sites/other/hall-message", json={"message": "Closed"},
                      headers=other).status_code == 200
    with database.session() as session:
        assert session.get(Site, site.id).hall_message is None
        assert session.get(Site, "other").hall_message == "Closed"


def csrf_token_of_any_page(client) -> str:
    """The CSRF token of a staff page that any member of staff may open (the desk choice)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/counter").text)[1]


def test_too_long_or_of_the_wrong_shape_is_refused(client, site, staff, database):
    sign_in(client, "kostas")
    headers = {"X-CSRFToken": csrf_token(client)}
    url = f"{API}/sites/{site.id}/hall-message"
    too_long = client.put(url, json={"message": "a" * (HALL_MESSAGE_MAX + 1)}, headers=headers)
    assert too_long.status_code == 422
    error = too_long.get_json()["error"]
    assert error["code"] == "message_too_long" and error["limit"] == HALL_MESSAGE_MAX
    assert str(HALL_MESSAGE_MAX) in error["message"]
    assert client.put(url, json={"message": 7}, headers=headers).get_json()["error"]["code"] \
        == "invalid_message"
    assert client.put(url, json={}, headers=headers).status_code == 422
    assert client.put(url, json={"message": "Closed"}).status_code == 400  # no CSRF token
    with database.session() as session:
        assert session.get(Site, site.id).hall_message is None
