"""Registered devices (kiosks): pairing them with a secret and recognising them by it."""
