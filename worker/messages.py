"""The RQ jobs of messages to visitors: send one, sweep the outbox, purge contact data.

What they mean (claims, retries, reminders, the texts) is in tessera/messages;
these entry points connect to the stores and read the settings when they run.
"""

import os

from tessera.config import Config
from tessera.links import listening_url
from tessera.messages.outbox import parse_reminders
from tessera.messages.purge import purge_contacts as purge
from tessera.messages.senders import config_settings
from tessera.messages.sending import Outlets, outlets_from_settings, send_one, sweep
from worker import job_stores


def send_message(message_id: int) -> str:
    """Send the outbox row `message_id` if it is due and unsent ("sent", "failed", ...)."""
    with job_stores() as stores:
        return send_one(stores.database, message_id, stores.engine.clock, _outlets())


def sweep_messages() -> dict[str, int]:
    """Write the reminders due and send every message due (retries included)."""
    with job_stores() as stores:
        return sweep(stores.database, stores.engine.clock, _outlets(),
                     parse_reminders(Config.APPOINTMENT_REMINDERS))


def purge_contacts() -> dict[str, dict]:
    """Delete email and phone numbers kept longer than CONTACT_RETENTION_DAYS."""
    with job_stores() as stores, stores.database.session() as session:
        return purge(session, stores.engine.clock(), Config.CONTACT_RETENTION_DAYS)


def _outlets() -> Outlets:
    # The worker has no request to learn the address from: PUBLIC_URL, else where `up`
    # made the web process listen (links then reach only this machine's network).
    public_url = Config.PUBLIC_URL or listening_url(os.environ.get("HOST", Config.HOST),
                                                    os.environ.get("PORT", Config.PORT))
    return outlets_from_settings(config_settings(), public_url)
