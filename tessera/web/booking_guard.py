"""Against slot hoarding: what a visitor's booking must pass before it takes a place.

(Interface first; the checks are being filled in: proof of work, per-address and
per-contact rate limits, a cap on active appointments per contact.)
"""


def protect_booking(site_id: str, contact: dict | None, challenge: str | None) -> None:
    """Refuse (with a TesseraError) a visitor's booking that a bot could be making.

    `challenge` is the proof-of-work payload the page's widget posted (form field
    `altcha`), or None. Staff booking on a visitor's behalf does not call this.
    """
