"""The RQ job that renders a call's announcements as soon as the call is made.

The displays fetch the files by URL (tessera/api/announcements.py); rendering here first
means their request finds the file cached. Rendering is idempotent, so a job run twice, or
after the display already asked, costs only a cache look-up.
"""

import os

from sqlalchemy import select

from tessera.config import Config
from tessera.database import Database
from tessera.models import Counter
from tessera.sites.catalogue import translated
from tessera.voice import Announcement, Settings, render


def render_call(counter_id: int, number: str, language: str) -> list[str]:
    """The RQ job: render `number`'s call to desk `counter_id` in `language` and the site's.

    Returns the files made or found (a language without a voice gives none).
    """
    # Only SQL is needed (the desk's names): no Redis, no publisher.
    database = Database(os.environ.get("DATABASE_URL", Config.DATABASE_URL))
    try:
        with database.session() as session:
            counter = session.scalars(select(Counter).where(Counter.id == counter_id)).first()
            if counter is None:
                return []
            site = counter.site
            wanted = [Announcement(code, number, counter.key,
                                   translated(counter.name, code, site))
                      for code in dict.fromkeys((language, site.language))]
    finally:
        database.engine.dispose()
    settings = Settings.from_environment()
    return [str(path) for path in (render(item, settings) for item in wanted) if path]
