"""export-site writes the site file of what the database holds: loaded into an empty
database it gives the same centre, and exported again the same file."""

import re

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tessera.clock import utc_now
from tessera.devices.registry import register_device
from tessera.models import Counter, Device
from tessera.sites.catalogue import catalogue, get_site
from tessera.sites.export import export_site
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

from .helpers import SITES, pair_kiosk


def centre(database, site_id: str) -> dict:
    """What visitors and desks see of a site, without ids: its catalogue in every
    language, its desks and their services, its devices."""
    with database.session() as session:
        pages = [catalogue(session, site_id, language)
                 for language in get_site(session, site_id).languages]
        desks = {counter.key: (counter.name, counter.zone, counter.languages,
                               sorted(service.key for service in counter.services))
                 for counter in session.scalars(select(Counter).where(
                     Counter.site_id == site_id, Counter.active))}
        devices = {device.key: (str(device.kind), device.settings)
                   for device in session.scalars(select(Device).where(
                       Device.site_id == site_id, Device.active))}
    without_ids = re.sub(r"'id': \d+, ", "", repr(pages))
    return {"catalogue": without_ids, "desks": desks, "devices": devices}


def load_text(database, text: str, path) -> None:
    """Load a site file given as text, as load-site does."""
    path.write_text(text, encoding="utf-8")
    with database.session() as session:
        load_site(session, read_site_file(path))


@pytest.mark.parametrize("source", [SITES / "small.yaml", DEMO_SITE], ids=["small", "demo"])
def test_export_load_export_gives_the_same_file_and_centre(database, empty_stores, tmp_path,
                                                           source):
    document = read_site_file(source)
    site_id = document["id"]
    with database.session() as session:
        load_site(session, document)
        if site_id == "small":  # devices registered on /admin travel too (without secrets)
            register_device(session, "small", "hall-tv", "Hall TV", "display", {}, utc_now(),
                            None)
    if site_id == "small":
        pair_kiosk(database, "small")
    with database.session() as session:
        first = export_site(session, site_id)
        hashes = set(session.scalars(select(Device.secret_hash).where(
            Device.secret_hash.is_not(None))))
    before = centre(database, site_id)
    assert "secret_hash" not in first and not any(secret in first for secret in hashes)

    empty_stores()
    load_text(database, first, tmp_path / "exported.yaml")
    with database.session() as session:
        second = export_site(session, site_id)
    assert second == first
    assert centre(database, site_id) == before


def test_the_export_says_what_the_file_said(database, site):
    with database.session() as session:
        exported = yaml.safe_load(export_site(session, "small"))
    original = read_site_file(SITES / "small.yaml")
    for field in ("id", "name", "timezone", "language", "languages", "opening_hours",
                  "organisations", "recall_limit"):
        assert exported[field] == original[field], field
    registration = exported["services"]["registration"]
    assert registration["text"]["en"] == {"name": "Registration",
                                          "description": "Register with the city.",
                                          "bring": "Passport", "checked": True}
    assert registration["text"]["ar"]["checked"] is False  # small lists ar as unchecked
    assert exported["counters"]["desk-3"] == {**original["counters"]["desk-3"]}
    assert exported["kiosks"] == original["kiosks"]
    assert "displays" not in exported and "staff" not in exported


def test_export_site_command_writes_a_file_or_standard_output(database, database_url, site,
                                                              tmp_path, monkeypatch):
    from tessera import cli

    monkeypatch.setattr(cli.Config, "DATABASE_URL", database_url)
    out = tmp_path / "small-export.yaml"
    written = CliRunner().invoke(cli.cli, ["export-site", "--site", "small", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert read_site_file(out)["id"] == "small"
    printed = CliRunner().invoke(cli.cli, ["export-site", "--site", "small"])
    assert printed.exit_code == 0 and printed.output == out.read_text(encoding="utf-8")
    unknown = CliRunner().invoke(cli.cli, ["export-site", "--site", "nowhere"])
    assert unknown.exit_code != 0 and "nowhere" in unknown.output
