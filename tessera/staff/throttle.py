"""A growing delay on an account's sign-in after failures: slows guessing, locks nobody out.

After `before_delay` failed sign-ins to one account, each further try must wait a
delay that doubles with every failure (1 s, 2 s, 4 s, ...) up to `max_delay`. The
delay applies only to the addresses that failed for the account: the person it
belongs to, at an address that has not failed, is let through to try their password,
so an attacker elsewhere can slow them down only as far as their own mistakes go.
A successful sign-in clears it all. Kept in Redis (it is rate-limit state; a flush
forgets it, which only ends a delay early).
"""

import datetime as dt
import hashlib

import redis

# Failures are forgotten a day after the last one.
FORGET_AFTER_SECONDS = 24 * 3600


def _key(username: str) -> str:
    # Hashed: the key names no account in Redis, and any username (length, characters) fits.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"tessera:login-failures:{digest}"


class LoginThrottle:
    """Counts an account's failed sign-ins and says how long a try must still wait."""

    def __init__(self, client: redis.Redis, before_delay: int, max_delay: int):
        self.client, self.before_delay, self.max_delay = client, before_delay, max_delay

    def wait_seconds(self, username: str, address: str, now: dt.datetime) -> int:
        """Seconds this address must wait before trying this account again (0: go ahead)."""
        key = _key(username)
        until = self.client.hget(key, "until")
        if until is None or not self.client.sismember(f"{key}:addresses", address):
            return 0
        return max(0, int(float(until) - now.timestamp() + 0.999))

    def failed(self, username: str, address: str, now: dt.datetime) -> None:
        """Record a failed sign-in to this account from this address."""
        key = _key(username)
        with self.client.pipeline() as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.sadd(f"{key}:addresses", address)
            pipe.expire(key, FORGET_AFTER_SECONDS)
            pipe.expire(f"{key}:addresses", FORGET_AFTER_SECONDS)
            failures = pipe.execute()[0]
        beyond = failures - self.before_delay
        if beyond >= 0:
            delay = min(self.max_delay, 2 ** min(beyond, 30))
            self.client.hset(key, "until", now.timestamp() + delay)

    def succeeded(self, username: str) -> None:
        """The right password: forget the account's failures."""
        key = _key(username)
        self.client.delete(key, f"{key}:addresses")
