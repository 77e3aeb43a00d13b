"""Site configuration as data: validation with clear messages, idempotent loading."""

import pytest
import yaml
from sqlalchemy import func, select

from tessera.models import Category, Counter, Organisation, Service, ServiceText, Site
from tessera.sites.loader import DEMO_SITE, SiteFileError, load_site, read_site_file

from .helpers import SITES

DEMO_LANGUAGES = {"el", "en", "ar", "fa", "uk", "ru", "ti", "fr", "so"}


def table_counts(database) -> dict:
    """Rows per configuration table."""
    with database.session() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Site, Organisation, Category, Service, ServiceText, Counter)}


def test_demo_centre_is_complete():
    demo = read_site_file(DEMO_SITE)
    assert demo["id"] == "demo" and demo["language"] == "el"
    assert set(demo["languages"]) >= DEMO_LANGUAGES
    assert len(demo["organisations"]) >= 6
    assert len(demo["services"]) >= 9
    assert len(demo["counters"]) >= 10
    for key, service in demo["services"].items():
        for language in DEMO_LANGUAGES:
            text = service["text"][language]
            assert text["name"] and text["description"] and text["bring"], (key, language)
    for key, category in demo["categories"].items():
        assert set(category["name"]) >= DEMO_LANGUAGES, key


def test_loading_twice_changes_nothing(database):
    document = read_site_file(DEMO_SITE)
    with database.session() as session:
        load_site(session, document)
    first = table_counts(database)
    with database.session() as session:
        load_site(session, document)
    assert table_counts(database) == first
    assert first["Service"] >= 9 and first["Counter"] >= 10


def test_reloading_an_edited_file_updates_in_place(database, tmp_path):
    document = read_site_file(SITES / "small.yaml")
    with database.session() as session:
        load_site(session, document)
        original = session.scalars(select(Service).where(Service.key == "certificates")).one()
    document["services"]["certificates"]["target_wait"] = 15
    document["services"]["registration"]["prefix"] = "B"
    document["services"]["certificates"]["prefix"] = "A"  # the two swap letters
    del document["services"]["legal_advice"]
    document["counters"]["desk-3"]["services"] = ["registration"]
    del document["counters"]["desk-2"]
    with database.session() as session:
        load_site(session, document)
    with database.session() as session:
        services = {s.key: s for s in session.scalars(select(Service))}
        counters = {c.key: c for c in session.scalars(select(Counter))}
        assert services["certificates"].id == original.id
        assert services["certificates"].target_wait_minutes == 15
        assert (services["registration"].prefix, services["certificates"].prefix) == ("B", "A")
        assert not services["legal_advice"].active  # kept for its tickets, not offered
        assert not counters["desk-2"].active
        assert [s.key for s in counters["desk-3"].services] == ["registration"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(id="Not A Slug"), "'id'"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    (lambda d: d.update(languages=["en"]), "languages"),
    (lambda d: d["services"]["registration"].update(organisation="nobody"),
     "services.registration: unknown organisation 'nobody'"),
    (lambda d: d["services"]["certificates"].update(prefix="A"), "prefix 'A' is used twice"),
    (lambda d: d["services"]["registration"].update(target_wait=-5), "target_wait"),
    (lambda d: d["services"]["registration"]["text"].pop("el"), "site language 'el'"),
    (lambda d: d["counters"]["desk-1"].update(services=["ghost"]), "counters.desk-1"),
    (lambda d: d["counters"]["desk-1"].update(languages=["xx"]), "counters.desk-1"),
    (lambda d: d["counters"]["desk-3"].update(zone="Upper Hall"), "counters.desk-3: 'zone'"),
    (lambda d: d.update(opening_hours={"mon": ["9-5"]}), "opening_hours.mon"),
    (lambda d: d.update(opening_hours={"mon": ["17:00-09:00"]}), "opening_hours.mon"),
    (lambda d: d.update(opening_hours={"monday": ["09:00-17:00"]}), "'opening_hours' keys"),
    (lambda d: d.update(closed_dates=["25 December"]), "'closed_dates'"),
    (lambda d: d.update(walk_in_stop_minutes=-5), "'walk_in_stop_minutes'"),
    (lambda d: d.update(walk_in_stop_minutes="15"), "'walk_in_stop_minutes'"),
])
def test_invalid_site_files_are_refused_clearly(tmp_path, edit, message):
    document = yaml.safe_load((SITES / "small.yaml").read_text(encoding="utf-8"))
    edit(document)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SiteFileError, match=message.replace("(", r"\(")):
        read_site_file(path)


def test_closed_dates_and_the_walk_in_stop_are_loaded(tmp_path, database):
    document = yaml.safe_load((SITES / "small.yaml").read_text(encoding="utf-8"))
    document.update(closed_dates=["2026-12-25", "2026-01-01"], walk_in_stop_minutes=15)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with database.session() as session:
        load_site(session, read_site_file(path))
    with database.session() as session:
        site = session.get(Site, "small")
        assert site.closed_dates == ["2026-01-01", "2026-12-25"]
        assert site.walk_in_stop_minutes == 15


def test_unreadable_files(tmp_path):
    with pytest.raises(SiteFileError, match="Cannot read"):
        read_site_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(SiteFileError, match="not valid YAML"):
        read_site_file(broken)
