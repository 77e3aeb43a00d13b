"""The speed benchmarks (bench/realtime.py, bench/issue.py) run end to end on a tiny hall.

Not measurements: a run this small only shows that each benchmark starts its servers and
clients, hears every call, and prints its table. Each runs as its own command, as a
reader of BENCHMARKS.md runs it, on the Redis tests use (a database of its own there, or
an embedded Redis where none listens on 6379).
"""

import socket
import subprocess
import sys

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow

# The databases the benchmarks use by default (BENCHMARKS.md), on the machine's Redis.
REALTIME_DB, ISSUE_DB = 6, 8
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def redis_base(tmp_path_factory):
    """'redis://127.0.0.1:6379/' where a Redis listens there, else an embedded Redis's URL
    (one database: the benchmarks then share it, one after the other)."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", 6379)) == 0:
            yield "redis://127.0.0.1:6379/"
            return
    from tessera.embedded import embedded_redis_url, start_embedded_redis

    server = start_embedded_redis(tmp_path_factory.mktemp("bench-redis"))
    yield embedded_redis_url(server)
    server.shutdown()


def redis_url(base: str, db: int) -> str:
    """The benchmark's database on a TCP Redis; an embedded one has only its socket."""
    return f"{base}{db}" if base.startswith("redis://") else base


def run(module: str, *arguments: str) -> dict[str, list[str]]:
    """Run `python -m module arguments`; its Markdown table as label -> cells."""
    result = subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert len(lines) > 2, result.stdout
    return {cells[0]: cells[1:] for cells in
            ([cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:])}


def test_the_realtime_benchmark_hears_every_call_from_tessera_and_the_bare_server(redis_base):
    table = run("bench.realtime", "--displays", "5", "--mobiles", "5", "--calls", "3",
                "--web-processes", "1", "--gap", "0.2",
                "--redis-url", redis_url(redis_base, REALTIME_DB))
    # Columns: Tessera, the bare server, Tessera ÷ bare.
    assert table["displays / mobile tickets connected"][:2] == ["5 / 5", "5 / 5"]
    # Each of 3 calls reaches 5 displays and the called phone, on each server.
    assert table["'called' events missed"][:2] == ["0 of 18", "0 of 18"]
    assert table["clients whose connection dropped during the calls"][:2] == ["0", "0"]
    p50, p99 = (float(ratio) for ratio in
                table["call → 'called' on displays, p50 / p99 (ms)"][2].split(" / "))
    assert p50 > 0 and p99 > 0
    assert float(table["web memory per connected client (KiB)"][0]) > 0


def test_the_issue_benchmark_issues_against_a_bare_route_with_and_without_a_queue(redis_base):
    table = run("bench.issue", "--rounds", "2", "--tickets", "3", "--bare-requests", "20",
                "--desks", "3", "--waiting", "10", "--concurrency", "3",
                "--redis-url", redis_url(redis_base, ISSUE_DB))
    # Every issued ticket was cancelled again: each burst met its phase's queue.
    assert table["steps waiting as each issuing burst began (min to max)"][:2] == [
        "0 to 0", "10 to 10"]
    for label in ("bare route, requests/s", "issuing, tickets/s"):
        assert all(float(rate) > 0 for rate in table[label][:2]), label
    assert float(table["issuing ÷ bare route"][2]) > 0
