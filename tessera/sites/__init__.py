"""Centres as data: site files (format in SCHEMA.md), loading them, and the catalogue."""
