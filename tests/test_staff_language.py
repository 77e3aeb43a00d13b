"""Staff pages in each member of staff's language: the switch, its refusals, the header."""

import html
import json
import re

import pytest

from tessera.errors import InvalidInput
from tessera.models import Staff
from tessera.staff.accounts import set_page_language

from .helpers import sign_in

# Strings the catalogues translate already (the switch's own strings come later).
ARABIC_CALL_NEXT, ARABIC_SIGN_OUT, ARABIC_CHOOSE = "نادِ التالي", "تسجيل الخروج", "اختر شباكك"
GREEK_SIGN_OUT = "Αποσύνδεση"


def csrf_of(page: str) -> str:
    """The CSRF token of a staff page's forms."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def choose_language(client, language, next_path="/counter", token=None):
    """Post the header's language switch, as its form does."""
    token = token or csrf_of(client.get("/counter").text)
    return client.post("/staff/language", data={"language": language, "next": next_path,
                                                "csrf_token": token})


def page_language_of(database, username):
    """What the profile keeps."""
    with database.session() as session:
        return session.query(Staff).filter_by(username=username).one().page_language


def html_tag(page: str) -> str:
    """The page's <html> tag, with its lang and dir."""
    return re.search(r"<html[^>]*>", page).group(0)


def test_the_switch_keeps_the_language_and_the_next_page_speaks_it(client, site, staff,
                                                                   database):
    sign_in(client, "maria")
    choose = client.get("/counter").text
    assert 'lang="el" dir="ltr"' in html_tag(choose) and GREEK_SIGN_OUT in choose

    desk = f"/counter/{site.counters['desk-1']}"
    answer = choose_language(client, "ar", desk)
    assert answer.status_code == 302 and answer.headers["Location"] == desk
    assert page_language_of(database, "maria") == "ar"

    workstation = client.get(desk).text
    assert 'lang="ar" dir="rtl"' in html_tag(workstation)
    assert ARABIC_CALL_NEXT in workstation and ARABIC_SIGN_OUT in workstation
    assert ARABIC_CHOOSE in client.get("/counter").text
    # The switch shows the language now chosen.
    assert re.search(r'<option value="ar" lang="ar" selected>', workstation)


def test_the_desk_api_answers_in_the_staff_language(client, site, staff, engine):
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    sign_in(client, "maria")
    choose_language(client, "ar")
    token = csrf_of(client.get(f"/counter/{desk}").text)
    answer = client.post(f"/api/v1/counters/{desk}/recall", headers={"X-CSRFToken": token},
                         json={})
    assert answer.status_code == 409
    assert answer.json["error"]["message"] == "هذا الشباك لم ينادِ أي تذكرة."


def test_the_manager_dashboard_follows_the_manager_language(client, site, staff):
    sign_in(client, "kostas")
    choose_language(client, "ar", "/manager")
    dashboard = client.get("/manager").text
    assert 'dir="rtl"' in html_tag(dashboard) and ARABIC_SIGN_OUT in dashboard


@pytest.mark.parametrize("language", ["xx", "", "de", "ar<script>"])
def test_a_bad_language_is_refused_and_changes_nothing(client, site, staff, database,
                                                       language):
    sign_in(client, "maria")
    choose_language(client, "el")
    answer = choose_language(client, language)
    assert answer.status_code == 422
    assert "ar, el" in answer.text  # the languages one may choose, in the page's language
    assert "<script>" not in answer.text
    assert page_language_of(database, "maria") == "el"


def test_the_switch_needs_the_csrf_token_and_a_session(client, site, staff, database):
    assert client.post("/staff/language", data={"language": "ar"}).status_code == 302  # sign in
    sign_in(client, "maria")
    assert client.post("/staff/language", data={"language": "ar"}).status_code == 400
    assert page_language_of(database, "maria") is None


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/",
                                    "https://evil.example/", "counter", ""])
def test_an_unsafe_redirect_target_is_refused(client, site, staff, target):
    sign_in(client, "maria")
    assert choose_language(client, "en", target).headers["Location"] == "/counter"


def test_a_language_no_longer_translated_falls_back_to_the_site_language(client, site, staff,
                                                                         database):
    sign_in(client, "maria")
    for kept, shown in [("ar", 'lang="ar"'), ("de", 'lang="el"')]:
        with database.session() as session:
            session.query(Staff).filter_by(username="maria").one().page_language = kept
        assert shown in html_tag(client.get("/counter").text), kept


def test_the_sign_in_page_keeps_following_accept_language(client, site, staff):
    sign_in(client, "maria")
    assert choose_language(client, "ar").status_code == 302
    token = csrf_of(client.get("/counter").text)
    client.post("/logout", data={"csrf_token": token})
    page = client.get("/login", headers={"Accept-Language": "fr"}).text
    assert 'lang="fr"' in html_tag(page)


def test_every_staff_page_has_the_header(make_client, site, staff):
    pages = {"maria": ["/counter", f"/counter/{site.counters['desk-1']}"],
             "kostas": ["/manager"]}
    for username, paths in pages.items():
        client = make_client()
        sign_in(client, username)
        for path in paths:
            page = client.get(path).text
            assert username.title() in page, path
            assert 'action="/logout"' in page and GREEK_SIGN_OUT in page, path
            assert 'action="/staff/language"' in page, path
            assert f'name="next" value="{path}"' in page, path


def test_staff_see_language_names_not_codes(client, site, staff, engine):
    engine.open_counter(site.counters["desk-2"])
    sign_in(client, "kostas")
    for path in ("/counter", f"/counter/{site.counters['desk-1']}", "/manager"):
        page = client.get(path).text
        header = re.search(r"data-language-names='([^']*)'", page).group(1)
        assert json.loads(html.unescape(header)) == {
            "el": "Ελληνικά", "en": "English", "ar": "العربية"}, path
        assert ">العربية</option>" in page and ">Ελληνικά</option>" in page, path
    # The desks' badges are words of the page's language, not the desk's state code.
    badges = re.findall(r'<span class="status status-\w+">([^<]*)</span>',
                        client.get("/counter").text)
    assert badges and "closed" not in badges and "open" not in badges
    assert "Κλειστό" in badges


def test_set_page_language_keeps_only_an_offered_language(database, staff):
    maria = staff["maria"].id
    with pytest.raises(InvalidInput) as refused, database.session() as session:
        set_page_language(session, maria, "xx", ["ar", "el", "en"])
    assert refused.value.code == "unknown_language"
    with database.session() as session:
        set_page_language(session, maria, "ar", ["ar", "el", "en"])
    assert page_language_of(database, "maria") == "ar"
