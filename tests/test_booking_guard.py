"""Against slot hoarding: the proof of work (ALTCHA), the rate limits per address and per
contact, and the cap on appointments to come per contact, through the API and as plain
functions, on real Redis and real SQL."""

import base64
import datetime as dt
import json
import time

import altcha
import pytest
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select

from tessera.appointments.booking import book, cancel
from tessera.appointments.protection import (
    ChallengeSettings,
    active_appointments,
    challenge_enabled,
    check_active_cap,
    contact_identities,
    derived_secret,
    hit_limit,
    new_challenge,
    normalised_email,
    normalised_phone,
    verify_challenge,
)
from tessera.errors import Conflict, Forbidden, TooManyRequests
from tessera.models import Appointment
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file
from tessera.web.booking_guard import protect_hold

API = "/api/v1"
# The test clock is Monday 2026-11-23, 10:00 in Athens; the demo books around the clock.
DAY = dt.datetime(2026, 11, 24, 7, 0)  # 09:00 in Athens
# A challenge a test solves in milliseconds: the work is the same kind, only less of it.
EASY = {"BOOKING_CHALLENGE": "on", "BOOKING_CHALLENGE_COST": 10,
        "BOOKING_CHALLENGE_COUNTER": 40}
SETTINGS = ChallengeSettings(derived_secret("test key", "signature"),
                             derived_secret("test key", "key"), 10, 40, 300)


@pytest.fixture
def demo(database):
    """The demo centre, which takes appointments around the clock."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))


def slot(number: int) -> str:
    """The start of the demo's n-th legal-advice slot of Tuesday, as the API takes it."""
    start = DAY + dt.timedelta(minutes=30 * number)
    return start.replace(tzinfo=dt.UTC).isoformat()


def solved(challenge: dict) -> str:
    """The payload a browser's widget would post: the challenge solved by altcha's solver."""
    challenge = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(challenge, timeout=10)
    assert solution is not None
    return altcha.Payload(challenge, solution).to_base64()


def book_through_api(client, number, contact=None, address="127.0.0.1", **body):
    """POST a legal-advice booking at the demo centre from a client address."""
    return client.post(f"{API}/sites/demo/appointments",
                       json={"service": "legal_advice", "start": slot(number),
                             "language": "ti", **({"contact": contact} if contact else {}),
                             **body},
                       environ_base={"REMOTE_ADDR": address})


def error_of(response) -> str:
    return response.get_json()["error"]["code"]


def appointments_in(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Appointment))


# The proof of work, as plain functions -----------------------------------------------

def test_a_solved_challenge_is_accepted_once(redis_client):
    payload = solved(new_challenge(SETTINGS))
    verify_challenge(redis_client, SETTINGS, payload)
    with pytest.raises(Forbidden) as replayed:
        verify_challenge(redis_client, SETTINGS, payload)
    assert replayed.value.code == "challenge_used"
    # The mark lasts as long as the challenge, no longer.
    key = next(iter(redis_client.scan_iter("tessera:booking-challenge:used:*")))
    assert 0 < redis_client.ttl(key) <= 5 * 60 + 1
    verify_challenge(redis_client, SETTINGS, solved(new_challenge(SETTINGS)))


def test_an_expired_challenge_is_refused(redis_client):
    payload = solved(new_challenge(SETTINGS, now=time.time() - 6 * 60))
    with pytest.raises(Forbidden) as refused:
        verify_challenge(redis_client, SETTINGS, payload)
    assert refused.value.code == "challenge_expired"


def tampered(payload: str, change) -> str:
    document = json.loads(base64.b64decode(payload))
    change(document)
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_forged_and_malformed_payloads_are_refused(redis_client):
    other_server = ChallengeSettings(derived_secret("another key", "signature"),
                                     derived_secret("another key", "key"), 10, 40, 300)
    good = solved(new_challenge(SETTINGS))

    def cheaper(document):
        document["challenge"]["parameters"]["cost"] = 1

    def wrong_key(document):
        document["solution"]["derivedKey"] = "00" * 32

    forged = [solved(new_challenge(other_server)), tampered(good, cheaper),
              tampered(good, wrong_key), "not base64!", base64.b64encode(b"[1]").decode(),
              "A" * 5000]
    for payload in forged:
        with pytest.raises(Forbidden) as refused:
            verify_challenge(redis_client, SETTINGS, payload)
        assert refused.value.code == "challenge_failed", payload
    for missing in (None, ""):
        with pytest.raises(Forbidden) as refused:
            verify_challenge(redis_client, SETTINGS, missing)
        assert refused.value.code == "challenge_required"
    verify_challenge(redis_client, SETTINGS, good)  # none of that used the good one up


def test_the_setting_is_on_unless_it_says_off():
    assert [challenge_enabled(value) for value in ("on", "", None, "yes", "ON")] == [True] * 5
    assert [challenge_enabled(value) for value in ("off", "OFF", " false", "0", "no")] == \
        [False] * 5


def test_challenges_differ_and_ask_for_a_counter_in_range():
    challenges = [new_challenge(SETTINGS) for _ in range(20)]
    assert len({c["parameters"]["nonce"] for c in challenges}) == 20
    for challenge in challenges[:5]:
        counter = altcha.solve_challenge(altcha.Challenge.from_dict(challenge)).counter
        assert 20 <= counter <= 40


# The proof of work through the API ---------------------------------------------------

def test_the_api_requires_the_challenge_when_on(make_client, redis_client, demo, database):
    client = make_client(**EASY)
    missing = book_through_api(client, 0)
    assert missing.status_code == 403 and error_of(missing) == "challenge_required"
    assert missing.get_json()["error"]["message"]
    answer = client.get(f"{API}/booking/challenge")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    payload = solved(answer.get_json())
    assert book_through_api(client, 0, altcha=payload).status_code == 201
    replayed = book_through_api(client, 1, altcha=payload)
    assert replayed.status_code == 403 and error_of(replayed) == "challenge_used"
    wrong = book_through_api(client, 1, altcha=7)
    assert wrong.status_code == 422 and error_of(wrong) == "invalid_altcha"
    assert appointments_in(database) == 1


def test_a_retry_with_the_same_idempotency_key_needs_no_new_challenge(make_client, demo,
                                                                      redis_client):
    client = make_client(**EASY)
    payload = solved(client.get(f"{API}/booking/challenge").get_json())
    first, again = (client.post(f"{API}/sites/demo/appointments",
                                headers={"Idempotency-Key": "retry-1"},
                                json={"service": "legal_advice", "start": slot(0),
                                      "language": "ti", "altcha": payload})
                    for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json()["token"] == again.get_json()["token"]


def test_off_means_no_challenge(client, demo):
    answer = client.get(f"{API}/booking/challenge")
    assert answer.status_code == 404 and error_of(answer) == "challenge_off"
    assert book_through_api(client, 0).status_code == 201


# Rate limits --------------------------------------------------------------------------

def test_bookings_per_address_are_limited_and_reading_is_free(make_client, redis_client, demo):
    client = make_client(BOOKING_LIMIT_PER_ADDRESS="2/hour")
    for _ in range(5):
        assert client.get(f"{API}/sites/demo/services/legal_advice/slots").status_code == 200
    assert [book_through_api(client, number).status_code for number in (0, 1)] == [201, 201]
    refused = book_through_api(client, 2)
    assert refused.status_code == 429 and error_of(refused) == "rate_limited"
    assert 0 < refused.get_json()["error"]["retry_after"] <= 3600
    assert book_through_api(client, 2, address="192.0.2.7").status_code == 201


def test_holds_a_page_asks_for_are_limited_per_address_apart_from_bookings(make_client,
                                                                          redis_client, demo):
    client = make_client(BOOKING_LIMIT_PER_ADDRESS="2/hour")
    app = client.application

    def hold_from(address):
        with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
            protect_hold()

    hold_from("192.0.2.1")
    hold_from("192.0.2.1")
    with pytest.raises(TooManyRequests):
        hold_from("192.0.2.1")
    hold_from("192.0.2.2")
    assert book_through_api(client, 0, address="192.0.2.1").status_code == 201


def test_a_booking_without_its_proof_counts_nothing(make_client, redis_client, demo):
    client = make_client(BOOKING_LIMIT_PER_ADDRESS="1/hour", **EASY)
    for _ in range(3):
        assert book_through_api(client, 0).status_code == 403
    payload = solved(client.get(f"{API}/booking/challenge").get_json())
    assert book_through_api(client, 0, altcha=payload).status_code == 201


def test_bookings_per_contact_are_limited_whatever_its_spelling(make_client, redis_client,
                                                                demo):
    client = make_client(BOOKING_LIMIT_PER_CONTACT="2/day", BOOKING_ACTIVE_PER_CONTACT=10)
    addresses = iter(f"192.0.2.{number}" for number in range(1, 20))
    spellings = [{"email": "Amanuel@Example.org"}, {"email": " amanuel@example.org "},
                 {"email": "AMANUEL@example.ORG"}]
    statuses = [book_through_api(client, number, contact, next(addresses)).status_code
                for number, contact in enumerate(spellings)]
    assert statuses == [201, 201, 429]
    phones = [{"phone": "+30 210 123 4567"}, {"phone": "+30-210-1234567"},
              {"phone": "0030 (210) 123 4567"}]
    statuses = [book_through_api(client, number, contact, next(addresses)).status_code
                for number, contact in enumerate(phones, start=3)]
    assert statuses == [201, 201, 429]
    # Either half of a contact is counted: a known phone with a new email is refused.
    both = book_through_api(client, 7, {"email": "new@example.org", "phone": "302101234567"},
                            next(addresses))
    assert both.status_code == 429
    other = book_through_api(client, 8, {"email": "selam@example.org"}, next(addresses))
    assert other.status_code == 201


def test_the_limit_counts_against_the_limits_library(redis_url, redis_client):
    limiter = FixedWindowRateLimiter(RedisStorage(redis_url))
    identifiers = ("tests", "booking-contact", "email:1")
    for _ in range(3):
        hit_limit(limiter, "3/minute", identifiers, "too many")
    with pytest.raises(TooManyRequests) as refused:
        hit_limit(limiter, "3/minute", identifiers, "too many")
    assert refused.value.status == 429 and 0 < refused.value.details["retry_after"] <= 60
    hit_limit(limiter, "3/minute", ("tests", "booking-contact", "email:2"), "too many")


def test_rate_limit_keys_keep_no_contact_data():
    identities = contact_identities("Amanuel@Example.org", "+30 210 123 4567", b"secret")
    assert identities == contact_identities(" amanuel@example.org", "0030 2101234567",
                                            b"secret")
    assert [identity.split(":")[0] for identity in identities] == ["email", "phone"]
    assert not any("amanuel" in identity or "2101234567" in identity for identity in identities)
    assert contact_identities(None, "", b"secret") == []


# The cap on appointments to come per contact -----------------------------------------

def test_contacts_are_normalised():
    assert normalised_email("  Amanuel@Example.ORG ") == "amanuel@example.org"
    assert normalised_email("  ") is None
    assert {normalised_phone(phone) for phone in ("+30 210 123 4567", "0030-210-1234567",
                                                  "(+30) 2101234567")} == {"302101234567"}
    assert normalised_phone(None) is None


def test_the_cap_counts_held_and_booked_appointments_to_come(database, demo, clock):
    with database.session() as session:
        first = book(session, "demo", "legal_advice", DAY, "ti",
                     {"email": "Amanuel@Example.org"}, clock())
        book(session, "demo", "legal_advice", DAY + dt.timedelta(minutes=30), "ti",
             {"phone": "+30 210 123 4567"}, clock(), hold=True)
        book(session, "demo", "legal_advice", DAY + dt.timedelta(hours=1), "ti",
             {"email": "selam@example.org"}, clock())
    with database.session() as session:
        assert active_appointments(session, "demo", "amanuel@example.org ", "0030 2101234567",
                                   clock()) == 2
        assert active_appointments(session, "demo", None, "+30-210-123-4567", clock()) == 1
        assert active_appointments(session, "other", "amanuel@example.org", None, clock()) == 0
        with pytest.raises(Conflict) as refused:
            check_active_cap(session, "demo", "AMANUEL@example.org", "+302101234567",
                             clock(), 2)
        assert refused.value.code == "too_many_appointments"
        check_active_cap(session, "demo", "AMANUEL@example.org", "+302101234567", clock(), 3)
        cancel(session, first.token, clock())
    with database.session() as session:
        check_active_cap(session, "demo", "amanuel@example.org", "+302101234567", clock(), 2)
    # A lapsed hold takes no place; an appointment that is over is not to come.
    clock.advance(minutes=11)
    with database.session() as session:
        assert active_appointments(session, "demo", None, "302101234567", clock()) == 0
    clock.now = DAY + dt.timedelta(hours=2)
    with database.session() as session:
        assert active_appointments(session, "demo", "selam@example.org", None, clock()) == 0


def test_the_cap_through_the_api_and_a_cancellation_frees_a_place(client, demo, database):
    contact = {"email": "amanuel@example.org", "phone": "+30 210 123 4567"}
    tokens = [book_through_api(client, number, contact).get_json()["token"]
              for number in (0, 1)]
    third = book_through_api(client, 2, {"phone": "0030 210 1234567"})
    assert third.status_code == 409 and error_of(third) == "too_many_appointments"
    assert "2" in third.get_json()["error"]["message"]
    assert appointments_in(database) == 2
    assert client.post(f"{API}/appointments/{tokens[0]}/cancel").status_code == 200
    assert book_through_api(client, 2, {"email": "Amanuel@example.org"}).status_code == 201
