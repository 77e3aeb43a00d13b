"""Security headers and cookie flags: CSP, no framing, SameSite, and HTTPS when configured."""

from .helpers import sign_in


def test_pages_forbid_framing_and_inline_code(client, site):
    answer = client.get("/login")
    assert answer.headers["X-Frame-Options"] == "DENY"
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "object-src 'none'" in policy
    assert "camera=(self)" in answer.headers["Permissions-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_samesite_and_secure_only_when_configured(make_client, staff):
    client = make_client()
    sign_in(client, "maria")
    cookie = client.get_cookie("session")
    assert cookie.same_site == "Lax" and cookie.http_only and not cookie.secure

    https = make_client(SECURE_COOKIES=True)
    signed_in = sign_in(https, "maria")
    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_force_https_redirects_plain_http(make_client, site):
    client = make_client(FORCE_HTTPS=True)
    answer = client.get("/login")
    assert answer.status_code == 302 and answer.location.startswith("https://")
    secure = client.get("/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert "max-age" in secure.headers["Strict-Transport-Security"]
