"""/admin/services and /admin/categories: creating and editing services (texts in every
site language side by side, their checked marks, slots) and categories; each bad value
refused with its message and nothing saved; who may do what; the audit entries."""

import pytest
from sqlalchemy import func, select

from tessera.models import Category, Organisation, Service, ServiceText
from tessera.sites.catalogue import catalogue
from tessera.sites.loader import load_site, read_site_file

from .helpers import SITES, audit_entries, post_form, signed_in

# A new service as the form sends it (checkboxes send "y" when ticked).
NEW_SERVICE = {
    "key": "housing", "organisation": "", "category": "", "prefix": "H",
    "target_wait": "40", "handling": "7.5", "position": "4", "walk_in": "y",
    "name_el": "Στέγαση", "description_el": "Βοήθεια στη στέγαση.", "bring_el": "Ταυτότητα",
    "checked_el": "y", "name_en": "Housing", "description_en": "Help with a home.",
    "name_ar": "السكن", "slots": "y", "slot_minutes": "30", "places": "2",
    "horizon_days": "14", "notice_minutes": "120", "hold_minutes": "10",
    "hours": "mon: 09:00-12:00; 13:00-15:00 (ar)\nthu: 10:00-12:00", "closed_dates": "2026-12-24",
}


@pytest.fixture(autouse=True)
def empty_redis(redis_client):
    """An emptied Redis: the sign-in rate limits of earlier tests do not carry over."""


def entries(database, kind):
    """The audit entries of `kind`, oldest first, as (actor id, data)."""
    return [(actor, data) for _kind, actor, data in audit_entries(database, kind)]


def count(database, model) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def service_row(database, service_id) -> Service:
    with database.session() as session:
        return session.get(Service, service_id)


def organisation_ids(database):
    with database.session() as session:
        return {o.key: str(o.id) for o in session.scalars(select(Organisation))}


def test_an_admin_creates_a_service_with_its_texts_side_by_side(make_client, database, site,
                                                                 admins):
    anna = signed_in(make_client, "anna")
    page = anna.get("/admin/services/new").text
    assert 'dir="rtl" id="name_ar" lang="ar"' in page
    assert 'id="description_en" lang="en"' in page
    form = {**NEW_SERVICE, "organisation": organisation_ids(database)["municipality"]}
    answer = post_form(anna, "/admin/services/new", form)
    assert answer.status_code == 302
    with database.session() as session:
        service = session.scalars(select(Service).where(Service.key == "housing")).one()
        texts = {text.language: text for text in service.texts}
        assert (service.prefix, service.target_wait_minutes, service.mean_handling_minutes,
                service.walk_in, service.by_appointment) == ("H", 40, 7.5, True, True)
        assert {code: text.checked for code, text in texts.items()} == {
            "el": True, "en": False, "ar": False}
        assert texts["en"].what_to_bring == ""
        assert service.appointment_settings == {
            "slot_minutes": 30, "places": 2, "horizon_days": 14, "notice_minutes": 120,
            "hold_minutes": 10, "closed_dates": ["2026-12-24"], "desks": [],
            "hours": {"mon": [{"time": "09:00-12:00", "languages": []},
                              {"time": "13:00-15:00", "languages": ["ar"]}],
                      "thu": [{"time": "10:00-12:00", "languages": []}]}}
        # The kiosk shows it at once, under "Other" (no category).
        shown = [s["name"] for c in catalogue(session, site.id, "ar")["categories"]
                 for s in c["services"]]
        assert "السكن" in shown
    (created,) = entries(database, "service_created")
    assert created[0] == admins["anna"].id
    assert created[1]["subject"]["key"] == "housing"
    assert created[1]["after"]["texts"]["el"]["name"] == "Στέγαση"
    listing = anna.get("/admin/services").text
    assert "Στέγαση" in listing and "Unchecked translation" in listing


BAD_SERVICE_VALUES = [
    ({"key": "Not A Slug"}, "key", "lower-case letters"),
    ({"key": "registration"}, "key", "taken"),
    ({"prefix": "A"}, "prefix", "is used by"),
    ({"prefix": "HH"}, "prefix", "One letter"),
    ({"target_wait": "0"}, "target_wait", "from 1 to 480"),
    ({"target_wait": "soon"}, "target_wait", "whole number"),
    ({"handling": "-3"}, "handling", "number of minutes"),
    ({"position": "1000"}, "position", "from 0 to 999"),
    ({"name_el": " "}, "name_el", "site language"),
    ({"name_ar": "", "description_ar": "وصف"}, "name_ar", "this language too"),
    ({"walk_in": "", "by_appointment": "", "slots": ""}, "walk_in", "or both"),
    ({"hours": "monday 09:00"}, "hours", "weekday"),
    ({"hours": "mon: 9-12"}, "hours", "is not a time"),
    ({"hours": "mon: 09:00-12:00 (xx)"}, "hours", "among the site"),
    ({"slot_minutes": "2"}, "slot_minutes", "from 5 to 480"),
    ({"closed_dates": "24/12/2026"}, "closed_dates", "2026-12-24"),
    ({"desks": "desk-1"}, "desks", "serve this service"),
    ({"organisation": "999"}, "organisation", "Choose an organisation"),
]


def test_each_bad_service_value_is_refused_with_its_message_and_nothing_saved(
        make_client, database, site, admins):
    anna = signed_in(make_client, "anna")
    good = {**NEW_SERVICE, "organisation": organisation_ids(database)["municipality"]}
    services, texts = count(database, Service), count(database, ServiceText)
    for change, field, message in BAD_SERVICE_VALUES:
        answer = post_form(anna, "/admin/services/new", {**good, **change})
        assert answer.status_code == 422, change
        errors = answer.text.split(f'id="{field}-errors"', 1)
        assert len(errors) == 2 and message in errors[1].split("</ul>", 1)[0], (change, field)
    assert (count(database, Service), count(database, ServiceText)) == (services, texts)
    assert entries(database, "service_created") == []


def test_editing_a_service_records_only_what_changed(make_client, database, site, admins):
    anna = signed_in(make_client, "anna")
    path = f"/admin/services/{site.services['registration']}"
    page = anna.get(path).text
    assert 'name="name_ar" type="text" value="التسجيل"' in page
    assert 'id="checked_ar" name="checked_ar"' in page and 'checked id="checked_ar"' not in page
    form = {"organisation": organisation_ids(database)["municipality"],
            "category": "", "prefix": "A", "target_wait": "25", "handling": "12",
            "position": "1", "walk_in": "y", "by_appointment": "y",
            "name_el": "Εγγραφή", "description_el": "Εγγραφή στον δήμο.",
            "bring_el": "Διαβατήριο", "checked_el": "y", "name_en": "Registration",
            "description_en": "Register with the city.", "bring_en": "Passport",
            "checked_en": "y", "name_ar": "التسجيل", "description_ar": "التسجيل في البلدية.",
            "bring_ar": "جواز السفر", "checked_ar": "y"}
    refused = post_form(anna, path, {**form, "prefix": "G"})  # legal advice's letter
    assert refused.status_code == 422 and "is used by" in refused.text
    assert service_row(database, site.services["registration"]).target_wait_minutes == 30
    assert post_form(anna, path, form).status_code == 302
    with database.session() as session:
        service = session.get(Service, site.services["registration"])
        assert service.target_wait_minutes == 25 and service.category is None
        assert all(text.checked for text in service.texts)
    (changed,) = entries(database, "service_changed")
    assert changed[1]["before"] == {"category": "papers", "target_wait": 30, "texts": {
        "ar": {"name": "التسجيل", "description": "التسجيل في البلدية.",
               "what_to_bring": "جواز السفر", "checked": False},
        "el": changed[1]["before"]["texts"]["el"], "en": changed[1]["before"]["texts"]["en"]}}
    assert changed[1]["after"]["target_wait"] == 25
    assert changed[1]["after"]["category"] is None


def test_an_organisation_manager_manages_only_their_organisations_services(
        make_client, database, site, admins):
    omar = signed_in(make_client, "omar")
    registration = f"/admin/services/{site.services['registration']}"
    legal = f"/admin/services/{site.services['legal_advice']}"
    listing = omar.get("/admin/services").text
    assert "Εγγραφή" in listing and "Νομική συμβουλή" not in listing
    assert omar.get(registration).status_code == 200
    organisations = organisation_ids(database)
    page = omar.get(registration).text
    assert f'value="{organisations["legal"]}"' not in page.split('id="organisation"')[1] \
        .split("</select>")[0]
    for path in (legal, f"{legal}/retire", "/admin/categories", "/admin/categories/new",
                 f"/admin/categories/{site_category(database, 'papers')}", "/admin/desks",
                 "/admin/desks/new", f"/admin/desks/{site.counters['desk-1']}",
                 f"/admin/desks/{site.counters['desk-1']}/retire"):
        assert omar.get(path).status_code == 403, path
    csrf_page = "/admin/services/new"
    assert post_form(omar, legal, {"prefix": "G"}, csrf_from=csrf_page).status_code == 403
    assert post_form(omar, f"{legal}/retire", csrf_from=csrf_page).status_code == 403
    # A new service, or a move, into another organisation is refused on its field.
    form = {**NEW_SERVICE, "organisation": organisations["legal"]}
    answer = post_form(omar, "/admin/services/new", form)
    assert answer.status_code == 422 and "Choose one of your organisations" in answer.text
    form = {**NEW_SERVICE, "organisation": organisations["municipality"]}
    assert post_form(omar, "/admin/services/new", form).status_code == 302
    assert [actor for actor, _ in entries(database, "service_created")] == [admins["omar"].id]
    edit = {**form, "prefix": "A", "name_el": "Εγγραφή δημότη"}
    assert post_form(omar, registration, edit).status_code == 302
    ((actor, changed),) = entries(database, "service_changed")
    assert actor == admins["omar"].id
    assert changed["after"]["texts"]["el"]["name"] == "Εγγραφή δημότη"
    maria = signed_in(make_client, "maria")
    assert maria.get("/admin/services").status_code == 403


def site_category(database, key) -> int:
    with database.session() as session:
        return session.scalars(select(Category.id).where(Category.key == key)).one()


def test_an_admin_creates_and_edits_categories(make_client, database, site, admins):
    anna = signed_in(make_client, "anna")
    page = anna.get("/admin/categories").text
    assert "Έγγραφα" in page and "#icon-id-card" in page
    papers = site_category(database, "papers")
    form = {"key": "family", "icon": "home", "position": "3", "parent": str(papers),
            "name_el": "Οικογένεια", "checked_el": "y", "name_ar": "العائلة"}
    assert post_form(anna, "/admin/categories/new", form).status_code == 302
    family = site_category(database, "family")
    bad = [({"key": "papers"}, "key", "taken"), ({"icon": "rocket"}, "icon", "icons"),
           ({"name_el": ""}, "name_el", "site language"),
           ({"position": "-1"}, "position", "from 0 to 999"),
           ({"parent": "99999"}, "parent", "categories")]
    categories = count(database, Category)
    for change, field, message in bad:
        answer = post_form(anna, "/admin/categories/new", {**form, "key": "other", **change})
        assert answer.status_code == 422
        assert message in answer.text.split(f'id="{field}-errors"', 1)[1].split("</ul>")[0]
    assert count(database, Category) == categories
    # Papers cannot go inside its own child.
    loop = {"icon": "id-card", "position": "1", "parent": str(family), "name_el": "Έγγραφα"}
    answer = post_form(anna, f"/admin/categories/{papers}", loop)
    assert answer.status_code == 422 and "inside itself" in answer.text
    edit = {**form, "name_en": "Family", "checked_en": "y", "icon": "health"}
    assert post_form(anna, f"/admin/categories/{family}", edit).status_code == 302
    with database.session() as session:
        category = session.get(Category, family)
        assert (category.icon, category.parent_id, category.unchecked_languages) == (
            "health", papers, ["ar"])
    assert [data["subject"]["key"] for _actor, data in entries(database, "category_created")] \
        == ["family"]
    (changed,) = entries(database, "category_changed")
    assert changed[1]["before"] == {"icon": "home", "name": {"el": "Οικογένεια",
                                                             "ar": "العائلة"}}


def test_the_site_file_carries_the_checked_marks(database):
    document = read_site_file(SITES / "small.yaml")
    document["services"]["registration"]["text"]["en"]["checked"] = False
    document["categories"]["help"]["unchecked"] = ["en"]
    with database.session() as session:
        load_site(session, document)
    with database.session() as session:
        texts = {(text.service.key, text.language): text.checked
                 for text in session.scalars(select(ServiceText))}
        categories = {c.key: c.unchecked_languages for c in session.scalars(select(Category))}
    # Without a mark, a text is unchecked in the site's unchecked_translations (ar).
    assert texts[("registration", "en")] is False and texts[("registration", "ar")] is False
    assert texts[("certificates", "en")] is True
    assert categories == {"papers": [], "help": ["en"]}
