"""Real redis-server processes on our own ports, for the tests of Redis going away and of
Sentinel failover; and small jobs for a worker to run (importable by its processes)."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")


def need_redis_server() -> str:
    """The redis-server binary, or skip the test (CI fails instead: the tools are there)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    return REDIS_SERVER


def wait_for_port(port: int, seconds: float = 10.0) -> None:
    """Wait until something answers PING on 127.0.0.1:port."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answers on port {port}")


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class RedisServer:
    """One redis-server (or sentinel) on a port of ours, in its own folder."""

    def __init__(self, port: int, folder: Path, *arguments: str, sentinel: str | None = None):
        self.port, self.folder, self.arguments, self.sentinel = port, folder, arguments, sentinel
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> "RedisServer":
        """Start it and wait until it answers."""
        binary = need_redis_server()
        if not port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken")
        if self.sentinel is not None:
            config = self.folder / "sentinel.conf"
            config.write_text(self.sentinel)
            command = [binary, str(config), "--sentinel", "--port", str(self.port)]
        else:
            command = [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                       "--dir", str(self.folder), "--save", "", "--appendonly", "no",
                       *self.arguments]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """Kill it at once (SIGKILL): a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        """A plain client straight to this server."""
        return redis.Redis(port=self.port, socket_timeout=2)


def sentinel_config(master_port: int, service: str = "mymaster") -> str:
    """A sentinel's configuration watching the master on master_port, failing over fast."""
    return (f"sentinel monitor {service} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 5000\n"
            f"sentinel parallel-syncs {service} 1\n")


def slow_job(path: str, seconds: float) -> str:
    """A job that takes a while: writes 'start', sleeps, writes 'done' to `path`."""
    with open(path, "a") as file:
        file.write("start\n")
    time.sleep(seconds)
    with open(path, "a") as file:
        file.write("done\n")
    return "ok"


def quick_job(path: str, word: str) -> str:
    """A job that writes `word` to `path` at once."""
    with open(path, "a") as file:
        file.write(word + "\n")
    return word
