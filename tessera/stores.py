"""The stores an app, worker or CLI command works with: SQL, Redis, and the engine on them."""

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from tessera.database import Database
from tessera.queue.base import Publisher, publish_nothing
from tessera.queue.engine import QueueEngine
from tessera.queue.live import LiveState
from tessera.redis_client import redis_client


@dataclass
class Stores:
    """SQL, Redis and the queue engine over both, created once per app."""

    database: Database
    redis: redis.Redis
    live: LiveState
    engine: QueueEngine

    @classmethod
    def connect(cls, database_url: str, redis_url: str, max_services: int = 4,
                publisher: Publisher = publish_nothing) -> "Stores":
        """Connect to both stores and build the engine on them."""
        database = Database(database_url)
        client = redis_client(redis_url, health_check_interval=30)
        live = LiveState(client)
        engine = QueueEngine(database, live, max_services=max_services, publisher=publisher)
        return cls(database, client, live, engine)

    def init_app(self, app: Flask) -> None:
        """Make these stores the app's (see `stores()`)."""
        app.extensions["tessera"] = self


def stores() -> Stores:
    """The current app's stores."""
    return current_app.extensions["tessera"]
