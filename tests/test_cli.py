"""The command line and the one-command start, run as a user would: in subprocesses."""

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tessera import create_app
from tessera.queue.reconcile import repair
from tessera.stores import stores

from .helpers import ROOT, closed_port


@pytest.fixture
def environment(tmp_path, redis_url):
    """The environment of a fresh installation with its own SQLite file and instance folder."""
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "REDIS_URL": redis_url, "TESSERA_INSTANCE": str(tmp_path / "instance")}


def tessera(environment, *arguments, stdin=None) -> subprocess.CompletedProcess:
    """Run `python -m tessera ARGUMENTS`."""
    return subprocess.run([sys.executable, "-m", "tessera", *arguments], env=environment,
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_migrate_load_reconcile_and_create_staff(environment, redis_client, tmp_path):
    assert tessera(environment, "migrate").returncode == 0
    loaded = tessera(environment, "load-site", "--demo")
    assert loaded.returncode == 0, loaded.stderr
    assert "Site 'demo' loaded" in loaded.stdout
    assert tessera(environment, "load-site", "--demo").returncode == 0  # idempotent

    reconciled = tessera(environment, "reconcile")
    assert reconciled.returncode == 0 and "demo: 0 waiting" in reconciled.stdout

    created = tessera(environment, "create-staff", "--site", "demo", "--username", "maria",
                      "--name", "Maria", "--role", "manager", "--language", "el",
                      "--language", "ar", "--organisation", "municipality")
    assert created.returncode == 0, created.stderr
    assert "Password (shown once): " in created.stdout
    password = created.stdout.split("Password (shown once): ")[1].strip()
    assert len(password) >= 16

    taken = tessera(environment, "create-staff", "--site", "demo", "--username", "maria",
                    "--name", "Maria", "--password-stdin", stdin="a long enough secret\n")
    assert taken.returncode == 1 and "username 'maria' is taken" in taken.stderr

    weak = tessera(environment, "create-staff", "--site", "demo", "--username", "nikos",
                   "--name", "Nikos", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr


def test_a_bad_site_file_is_reported_clearly(environment, tmp_path):
    tessera(environment, "migrate")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: demo\ntimezone: Nowhere/Else\n", encoding="utf-8")
    result = tessera(environment, "load-site", str(bad))
    assert result.returncode == 1
    assert "'timezone' is not a known IANA zone" in result.stderr
    assert "Traceback" not in result.stderr


def test_healthz_reports_each_store(redis_url, database_url, database, redis_client, site):
    app = create_app({"REDIS_URL": redis_url, "DATABASE_URL": database_url})
    healthy = app.test_client()
    # A Redis that lost the live state serves on, degraded, until the repair has run.
    response = healthy.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "stale_sites": [site.id],
                                   "redis": True, "database": True}
    with app.app_context():
        repair(stores().database, stores().live)
    response = healthy.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "redis": True, "database": True}

    without_redis = create_app({"REDIS_URL": "redis://127.0.0.1:1/0",
                                "DATABASE_URL": database_url}).test_client()
    response = without_redis.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] is False and response.get_json()["database"] is True


def wait_for_health(url: str, seconds: float, process: subprocess.Popen) -> tuple:
    """Poll /healthz until it answers 200: gives (its status and body, None), or, when the
    process ends or `seconds` pass first, (None, what went wrong last).

    Refused, reset or timed-out connections, a dropped answer and 503 (HTTPError is an
    OSError) all mean "not up yet": the server may still be starting its worker.
    """
    deadline = time.monotonic() + seconds
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None, f"the process ended with code {process.returncode} ({last_error})"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return {"status": response.status, "body": response.read().decode()}, None
        except (OSError, http.client.HTTPException) as error:
            last_error = repr(error)
        time.sleep(0.5)
    return None, f"no healthy answer within {seconds} s; last error: {last_error}"


@pytest.mark.slow
def test_up_runs_everything_with_embedded_redis(tmp_path):
    port = closed_port()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("REDIS_URL", "DATABASE_URL")}
    environment.update(TESSERA_INSTANCE=str(tmp_path / "instance"), PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "tessera", "up", "--demo"], cwd=ROOT,
                               env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        health, problem = wait_for_health(f"http://127.0.0.1:{port}/healthz", 90, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert health is not None, f"`tessera up` did not become healthy: {problem}\n{output}"
    assert '"redis":true' in health["body"].replace(" ", "")
    assert (tmp_path / "instance" / "tessera.sqlite3").exists()
    assert "Site 'demo' loaded" in output
    assert f"http://127.0.0.1:{port}/kiosk/demo/entrance" in output
    # The demo kiosk's pairing link, so the demo still prints.
    assert f"http://127.0.0.1:{port}/kiosk/demo/entrance/pair?code=" in output
    for role in ("staff", "manager", "admin"):
        assert f"demo-{role}" in output  # one account per role, password shown once
    assert process.returncode == 0
