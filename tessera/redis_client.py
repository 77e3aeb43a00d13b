"""The one place Redis clients are made: a plain server, an embedded one, or Sentinel.

A Redis behind Sentinel is named, between processes and in REDIS_URL, by the URL
python-socketio reads, `redis+sentinel://host:port,host:port/DB/SERVICE`, so the
Socket.IO message queue takes it as it is; the rate limiter's library spells the
same place differently, which `limiter_storage()` translates.
"""

from urllib.parse import unquote, urlparse

import redis
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
# How long a question to a sentinel may take: a sentinel that is down is skipped for the
# next one, so a short wait keeps a failover short.
SENTINEL_SOCKET_TIMEOUT = 1.0


def sentinel_url(sentinels: str, service: str, db: int = 0) -> str:
    """The URL of `service` behind the comma-separated `host:port` sentinels."""
    addresses = ",".join(address.strip() for address in sentinels.split(",") if address.strip())
    if not addresses:
        raise ValueError("REDIS_SENTINELS names no sentinel (host:port,host:port)")
    return f"{SENTINEL_SCHEME}://{addresses}/{db}/{service}"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, dict]:
    """The sentinels, the service, and the master's connection options of a sentinel URL."""
    parsed = urlparse(url)
    sentinels = []
    for address in parsed.netloc.rpartition("@")[2].split(","):
        host, _, port = address.rpartition(":")
        sentinels.append((host, int(port)))
    parts = [part for part in parsed.path.split("/") if part]
    options: dict = {"db": int(parts[0]) if parts else 0}
    if parsed.username:
        options["username"] = unquote(parsed.username)
    if parsed.password:
        options["password"] = unquote(parsed.password)
    return sentinels, parts[1] if len(parts) > 1 else "mymaster", options


def is_sentinel_url(url: str) -> bool:
    """Whether `url` names a Redis behind Sentinel."""
    return url.startswith(SENTINEL_SCHEME + "://")


def redis_client(url: str, **options) -> redis.Redis:
    """A client for `url`; `options` go to every connection (timeouts, health checks).

    Behind Sentinel the client asks the sentinels for the master on each new
    connection, so after a failover its next connection reaches the new master.
    """
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **options)
    sentinels, service, connection = parse_sentinel_url(url)
    sentinel = Sentinel(sentinels, sentinel_kwargs={"socket_timeout": SENTINEL_SOCKET_TIMEOUT},
                        **connection)
    return sentinel.master_for(service, **options)


def limiter_storage(url: str) -> str:
    """The rate limiter's storage URI for our Redis, in the `limits` library's spelling."""
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    if is_sentinel_url(url):
        sentinels, service, connection = parse_sentinel_url(url)
        auth = (f"{connection.get('username', '')}:{connection['password']}@"
                if "password" in connection else "")
        return (f"{SENTINEL_SCHEME}://{auth}"
                f"{','.join(f'{host}:{port}' for host, port in sentinels)}/{service}")
    return url
