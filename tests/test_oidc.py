"""Single sign-on through OpenID Connect, against a real provider started here.

oidc-provider-mock serves the protocol on a local port: discovery, the authorization
endpoint (its form is posted with the subject who "signs in"), the token endpoint,
the published keys and signed ID tokens. The app drives it through Authlib as it would
a city's provider; the browser's part is played by the Flask test client and requests.
"""

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import oidc_provider_mock
import pytest
import requests
from sqlalchemy import func, select

from tessera.models import Event, StaffSession
from tessera.staff.accounts import create_staff, deactivate_staff

from .helpers import PASSWORD, closed_port, sign_in


@pytest.fixture(scope="module")
def provider():
    """The provider's issuer address; it insists on a nonce, as a careful one does."""
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def sso_client(make_client, redis_client, provider):
    """A client of the app with single sign-on through the provider."""
    return make_client(OIDC_ISSUER=provider, OIDC_CLIENT_ID="tessera",
                       OIDC_CLIENT_SECRET="client-secret", OIDC_PROVIDER_NAME="City account")


def provider_user(provider: str, subject: str, **claims) -> None:
    """Tell the provider the claims of the person `subject`."""
    response = requests.put(f"{provider}/users/{quote(subject)}", json=claims, timeout=5)
    assert response.status_code == 204


def start(client, provider: str, target: str | None = None) -> str:
    """Press the button: the provider's authorization address the app sends us to."""
    response = client.get("/login/oidc" + (f"?{urlencode({'next': target})}" if target else ""))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{provider}/oauth2/authorize?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["redirect_uri"] == "http://localhost/login/oidc/callback"
    assert query["state"] and query["nonce"] and "openid" in query["scope"].split()
    return location


def authorize(location: str, subject: str) -> str:
    """Sign in at the provider as `subject`: where it sends the browser back (path and query)."""
    response = requests.post(location, data={"sub": subject}, allow_redirects=False,
                             timeout=5)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["Location"])
    assert back.path == "/login/oidc/callback" and "code=" in back.query
    return f"{back.path}?{back.query}"


def single_sign_on(client, provider: str, subject: str, target: str | None = None):
    """The whole round trip; the app's answer to the provider's redirect back."""
    return client.get(authorize(start(client, provider, target), subject))


def refusal(client, response) -> str:
    """The sign-in page a refused sign-in lands on, as text."""
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page.text


def signed_out(client) -> bool:
    """Whether the client has no working session: staff pages send it to sign in."""
    response = client.get("/counter")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def session_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(StaffSession))


def audit_entries(database, kind: str) -> list[Event]:
    with database.session() as session:
        rows = session.scalars(select(Event).where(Event.kind == kind)).all()
        session.expunge_all()
        return rows


def test_a_matching_account_signs_in_to_the_desk_choice(sso_client, provider, database,
                                                        staff):
    page = sso_client.get("/login").text
    assert "Sign in with City account" in page and 'href="/login/oidc"' in page
    provider_user(provider, "city-7781", preferred_username="maria", name="Maria")
    # Where the sign-in goes next follows the password form's rules: never off the site.
    response = single_sign_on(sso_client, provider, "city-7781", "https://elsewhere.example/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/counter"
    assert sso_client.get("/counter").status_code == 200
    assert session_count(database) == 1
    (entry,) = audit_entries(database, "signed_in_oidc")
    assert entry.staff_id == staff["maria"].id and entry.site_id == staff["maria"].site_id
    assert entry.data["issuer"] == provider and entry.data["oidc_subject"] == "city-7781"
    assert entry.data["subject"] == {"staff": staff["maria"].id, "username": "maria"}


def test_the_email_claim_and_where_the_sign_in_was_going(make_client, redis_client,
                                                         provider, database, site):
    with database.session() as session:
        create_staff(session, site.id, "eleni@city.example", "Eleni", "manager", ["el"], [],
                     PASSWORD)
    client = make_client(OIDC_ISSUER=provider, OIDC_CLIENT_ID="tessera",
                         OIDC_CLIENT_SECRET="client-secret", OIDC_USERNAME_CLAIM="email")
    # The button carries where the sign-in was going; without a name, the provider's host.
    page = client.get("/login?next=/manager").text
    assert 'href="/login/oidc?next=/manager"' in page and "Sign in with localhost" in page
    # An address the provider says it has not verified proves nothing.
    provider_user(provider, "city-0001", email="eleni@city.example", email_verified=False)
    text = refusal(client, single_sign_on(client, provider, "city-0001"))
    assert "did not say which account" in text and signed_out(client)
    provider_user(provider, "city-0001", email="eleni@city.example", email_verified=True)
    response = single_sign_on(client, provider, "city-0001", "/manager?view=today")
    assert response.headers["Location"] == "/manager?view=today"
    assert not signed_out(client)


def test_an_unknown_account_is_refused(sso_client, provider, database):
    provider_user(provider, "city-4040", preferred_username="stranger")
    text = refusal(sso_client, single_sign_on(sso_client, provider, "city-4040",
                                              "/manager"))
    assert "There is no account “stranger” here" in text
    assert signed_out(sso_client) and session_count(database) == 0
    assert audit_entries(database, "signed_in_oidc") == []


def test_a_deactivated_account_is_refused(sso_client, provider, database, staff, clock):
    with database.session() as session:
        deactivate_staff(session, "leila", clock())
    provider_user(provider, "city-2002", preferred_username="leila")
    text = refusal(sso_client, single_sign_on(sso_client, provider, "city-2002"))
    assert "The account “leila” is deactivated." in text
    assert signed_out(sso_client) and session_count(database) == 0
    (entry,) = audit_entries(database, "sign_in_failed")
    assert entry.data["reason"] == "oidc_account_inactive"
    assert entry.data["oidc_subject"] == "city-2002" and entry.staff_id is None


def test_a_wrong_state_or_nonce_is_refused(sso_client, provider, database, staff):
    provider_user(provider, "city-7781", preferred_username="maria")
    # The state the provider sends back must be the one this browser's session started.
    callback = authorize(start(sso_client, provider), "city-7781")
    parts = urlsplit(callback)
    query = dict(parse_qsl(parts.query)) | {"state": "forged-state"}
    forged = urlunsplit(("", "", parts.path, urlencode(query), ""))
    assert "did not work" in refusal(sso_client, sso_client.get(forged))
    # An ID token made for another nonce (a replayed or injected one) is refused too.
    location = urlsplit(start(sso_client, provider))
    query = dict(parse_qsl(location.query)) | {"nonce": "someone-elses-nonce"}
    injected = urlunsplit(location._replace(query=urlencode(query)))
    response = sso_client.get(authorize(injected, "city-7781"))
    assert "did not work" in refusal(sso_client, response)
    assert signed_out(sso_client) and session_count(database) == 0


def test_passwords_still_work_beside_single_sign_on(sso_client, make_client, staff):
    response = sign_in(sso_client, "kostas")
    assert response.status_code == 302 and response.headers["Location"] == "/counter"
    assert not signed_out(sso_client)
    # With the provider down, the button says so and the password form still works.
    client = make_client(OIDC_ISSUER=f"http://127.0.0.1:{closed_port()}",
                         OIDC_CLIENT_ID="tessera")
    assert "is not available at the moment" in refusal(client, client.get("/login/oidc"))
    assert sign_in(client, "maria").headers["Location"] == "/counter"


def test_without_an_issuer_there_is_no_button_and_no_route(client):
    page = client.get("/login").text
    assert "/login/oidc" not in page and "Sign in with" not in page
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
