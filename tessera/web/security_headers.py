"""Security headers and cookie flags on every answer (Flask-Talisman).

The pages load their scripts, styles, fonts and images from this site only, with no
inline script or style, so the Content-Security-Policy allows 'self' and nothing else,
with three exceptions the pages need:
- the booking page's proof-of-work widget (ALTCHA) adds one <style> element, which
  carries the request's nonce (the widget reads it from <meta name="csp-nonce">), and
  solves in a Web Worker it starts from a blob: URL;
- Socket.IO opens a WebSocket to this site ('self' covers ws: and wss: of it);
- the kiosk's check-in scanner uses the camera (Permissions-Policy camera=(self)).
Speech synthesis and WebAudio (call displays, kiosk sounds) need no permission.
Pages may not be framed by anyone (X-Frame-Options DENY, frame-ancestors 'none').

SECURE_COOKIES marks the session cookie Secure (HTTPS only); FORCE_HTTPS redirects plain
HTTP to HTTPS and sends Strict-Transport-Security. Behind a proxy that ends TLS, the
proxy must say so (X-Forwarded-Proto) and the app trust it, or every request looks
like plain HTTP.
"""

from flask import Flask
from flask_talisman import Talisman

SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "default-src": SELF,
    "script-src": SELF,
    "style-src": SELF,
    "img-src": [SELF, "data:"],
    "font-src": SELF,
    "connect-src": SELF,
    "media-src": SELF,
    "worker-src": [SELF, "blob:"],
    "object-src": "'none'",
    "base-uri": SELF,
    "form-action": SELF,
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {"camera": "(self)", "microphone": "()", "geolocation": "()",
                      "browsing-topics": "()"}

def init_security_headers(app: Flask) -> None:
    """Send the headers above on every response and set the session cookie's flags."""
    # One Talisman per app: it keeps its settings on itself, and tests build many apps.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SECURE_COOKIES"],
        session_cookie_samesite="Lax",
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["style-src"],
        permissions_policy=PERMISSIONS_POLICY,
    )
