"""Background jobs run by the RQ worker (`python -m tessera worker`): printing, closing days.

Modules here have no side effects at import; each job connects to the stores
named by the environment (DATABASE_URL, REDIS_URL) when it runs.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tessera.config import Config
from tessera.stores import Stores
from tessera.web.realtime import QueuePublisher


@contextmanager
def job_stores() -> Iterator[Stores]:
    """The stores for one job, publishing through the web processes' message queue."""
    # REDIS_SENTINELS, when set, names the Redis (Config spells it as a sentinel URL).
    redis_url = Config.REDIS_URL if Config.REDIS_SENTINELS else os.environ.get("REDIS_URL")
    if not redis_url:
        raise RuntimeError("REDIS_URL is not set: jobs need the live state's Redis")
    publisher = QueuePublisher(redis_url, os.environ.get("SOCKETIO_CHANNEL",
                                                         Config.SOCKETIO_CHANNEL))
    stores = Stores.connect(os.environ.get("DATABASE_URL", Config.DATABASE_URL), redis_url,
                            publisher=publisher)
    try:
        yield stores
    finally:
        stores.database.engine.dispose()
        stores.redis.close()
