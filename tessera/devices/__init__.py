"""Registered devices (kiosks and hall displays): registering, pairing with a secret,
recognising them by it, revoking them, and a kiosk printer's test page."""
