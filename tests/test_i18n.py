"""Translations: the catalogues are complete and safe, and visitors get pages and errors in
their language."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tessera.errors import InvalidInput

from .helpers import pair_client

ROOT = Path(__file__).parent.parent
TRANSLATIONS = ROOT / "tessera" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
LANGUAGES = ["el", "ar", "fa", "uk", "ru", "ti", "fr", "so"]
DRAFT_NOTICE = "Draft translation, not yet checked by a native speaker."
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Characters that would break the HTML attributes many translations are rendered into.
HTML_SPECIAL = set("<>&\"")


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def read_catalogue(path: Path, language: str | None = None):
    with path.open("rb") as file:
        return read_po(file, locale=language)


def translation(language: str, msgid: str) -> str:
    """What the catalogue says for `msgid`, read from the .po (never hard-coded here)."""
    message = read_catalogue(po_path(language), language).get(msgid)
    assert message is not None and message.string, f"{language} lacks {msgid!r}"
    return message.string


def forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def msgids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """Compile the .po files whose .mo is missing or older (`make` normally does this)."""
    compiled = False
    for path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        target = path.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        catalogue = read_catalogue(path, path.parent.parent.name)
        with target.open("wb") as file:
            write_mo(file, catalogue)
        compiled = True
    if compiled:
        # Flask-Babel keeps loaded catalogues for the process; forget any loaded before.
        from tessera.web.extensions import babel

        domain = babel.__dict__.get("domain_instance")
        if domain is not None:
            domain.cache.clear()


# The catalogues ------------------------------------------------------------------------

def template_messages():
    return [message for message in read_catalogue(TEMPLATE) if message.id]


def test_every_language_has_a_catalogue():
    found = sorted(path.parent.parent.name for path in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"))
    assert found == sorted(LANGUAGES)


def test_the_template_holds_every_string_of_the_code():
    """messages.pot is up to date: a new _() string needs extracting and translating."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}  # as `pybabel extract -k`
    in_code = {message[2] for message in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords)}
    in_code = {key[0] if isinstance(key, tuple) else key for key in in_code}
    in_template = {msgids(message)[0] for message in template_messages()}
    assert in_code - in_template == set(), "run pybabel extract (see babel.cfg)"
    assert in_template - in_code == set(), "messages.pot has strings the code no longer uses"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_translates_every_message(language):
    catalogue = read_catalogue(po_path(language), language)
    missing = []
    for expected in template_messages():
        message = catalogue.get(expected.id)
        if message is None or not all(forms(message)):
            missing.append(expected.id)
            continue
        if expected.pluralizable:
            assert len(forms(message)) == catalogue.num_plurals, (language, expected.id)
        assert "fuzzy" not in message.flags, (language, expected.id)  # compile would skip it
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_keeps_placeholders_and_markup_safe(language):
    catalogue = read_catalogue(po_path(language), language)
    for message in catalogue:
        if not message.id:
            continue
        wanted = {name for text in msgids(message) for name in PLACEHOLDER.findall(text)}
        source_specials = {c for text in msgids(message) for c in text} & HTML_SPECIAL
        for text in forms(message):
            assert set(PLACEHOLDER.findall(text)) == wanted, (language, message.id, text)
            # Jinja formats every translation, so a bare % would break the page.
            assert "%" not in PLACEHOLDER.sub("", text), (language, message.id, text)
            assert set(text) & HTML_SPECIAL <= source_specials, (language, message.id, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_says_it_is_an_unchecked_draft(language):
    catalogue = read_catalogue(po_path(language), language)
    assert DRAFT_NOTICE in catalogue.header_comment
    unmarked = [message.id for message in catalogue
                if message.id and "unchecked" not in message.user_comments]
    assert unmarked == []


# Pages and errors ----------------------------------------------------------------------

def test_kiosk_services_page_speaks_arabic(client, site):
    page = pair_client(client, "small").get("/kiosk/small/entrance/ar")
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page.text
    assert translation("ar", "What do you need today?") in page.text
    assert translation("ar", "Take a ticket") in page.text
    assert "What do you need today?" not in page.text


def test_api_error_comes_in_the_visitors_language(client, site):
    response = client.post(f"/api/v1/sites/{site.id}/tickets",
                           json={"services": [], "language": "ar"},
                           headers={"Accept-Language": "ar"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "empty_journey"  # codes stay machine words
    assert error["message"] == translation("ar", "Choose at least one service.")


def test_api_error_with_a_placeholder_is_translated_and_filled(make_client, site):
    client = make_client(MAX_SERVICES_PER_TICKET=2)
    services = list(site.services.values())
    response = client.post(f"/api/v1/sites/{site.id}/tickets",
                           json={"services": services, "language": "ar"},
                           headers={"Accept-Language": "fa, en;q=0.5"})
    assert response.status_code == 422
    expected = translation("fa", "At most %(count)s services can be chosen for one visit.")
    assert response.get_json()["error"]["message"] == expected % {"count": 2}


@pytest.mark.parametrize("header", [None, "de-DE, de;q=0.9", "en"])
def test_api_errors_stay_english_without_a_language_we_have(client, site, header):
    headers = {"Accept-Language": header} if header else {}
    response = client.post(f"/api/v1/sites/{site.id}/tickets",
                           json={"services": [], "language": "ar"}, headers=headers)
    assert response.get_json()["error"]["message"] == "Choose at least one service."


def test_regional_accept_language_finds_the_language(client, site):
    response = client.post(f"/api/v1/sites/{site.id}/tickets",
                           json={"services": [], "language": "ar"},
                           headers={"Accept-Language": "ar-SY"})
    assert response.get_json()["error"]["message"] == translation(
        "ar", "Choose at least one service.")


def test_engine_outside_an_app_speaks_english(engine, site):
    """The CLI and tests use the engine without Flask: messages are the English source."""
    with pytest.raises(InvalidInput) as refused:
        engine.issue_ticket(site.id, [], "ar")
    assert refused.value.message == "Choose at least one service."
