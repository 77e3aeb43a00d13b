"""The command line: `python -m tessera COMMAND`."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from tessera.config import INSTANCE_DIRECTORY, Config
from tessera.embedded import embedded_redis_url, start_embedded_redis

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"


@contextmanager
def redis_url():
    """REDIS_URL from the environment, else an embedded server for the block's duration."""
    if Config.REDIS_URL:
        yield Config.REDIS_URL
        return
    server = start_embedded_redis(INSTANCE_DIRECTORY)
    try:
        yield embedded_redis_url(server)
    finally:
        # The last client of an embedded server shuts it down, saving its data.
        del server


@contextmanager
def connected_stores():
    """The stores, as the web app would open them."""
    from tessera.stores import Stores

    with redis_url() as url:
        yield Stores.connect(Config.DATABASE_URL, url, Config.MAX_SERVICES_PER_TICKET)


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group()
def cli():
    """Tessera: queues and appointments for One-Stop-Shops."""


@cli.command()
def migrate():
    """Create or upgrade the SQL schema (DATABASE_URL, default a SQLite file in instance/)."""
    from tessera.migrate import upgrade

    if Config.DATABASE_URL.startswith("sqlite:///"):
        Path(Config.DATABASE_URL.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                         exist_ok=True)
    upgrade(Config.DATABASE_URL)
    click.echo("Database schema is up to date.")


@cli.command("load-site")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("--demo", is_flag=True, help="Load the demo centre shipped with Tessera.")
def load_site_command(path, demo):
    """Create or update a site from a YAML file (idempotent)."""
    from tessera.database import Database
    from tessera.sites.loader import DEMO_SITE, SiteFileError, load_site, read_site_file

    if bool(path) == bool(demo):
        _fail("Give either a site file or --demo.")
    try:
        document = read_site_file(DEMO_SITE if demo else path)
    except SiteFileError as error:
        _fail(str(error))
    database = Database(Config.DATABASE_URL)
    with database.session() as session:
        load_site(session, document)
    click.echo(f"Site '{document['id']}' loaded: {len(document['services'])} services, "
               f"{len(document.get('counters') or {})} counters.")


@cli.command("reconcile")
@click.option("--site", "site_id", help="Only this site (default: every site).")
def reconcile_command(site_id):
    """Flush the live state in Redis and rebuild it from SQL."""
    from tessera.queue.reconcile import reconcile

    with connected_stores() as stores:
        for site, counts in reconcile(stores.database, stores.live, site_id).items():
            click.echo(f"{site}: {counts['waiting']} waiting, "
                       f"{counts['counters_on_duty']} counters on duty, "
                       f"{counts['print_jobs']} print jobs resumed")


@cli.command("close-day")
@click.option("--site", "site_id", help="Only this site (default: every site).")
def close_day_command(site_id):
    """End today's service day now: waiting steps expire, every free desk closes."""
    from sqlalchemy import select

    from tessera.models import Site

    with connected_stores() as stores:
        with stores.database.session() as session:
            site_ids = [site_id] if site_id else list(session.scalars(select(Site.id)))
            if site_id and session.get(Site, site_id) is None:
                _fail(f"There is no site '{site_id}'.")
        for site in site_ids:
            result = stores.engine.close_day(site)
            click.echo(f"{site}: day {result['day']} closed, {result['expired']} steps expired, "
                       f"{result['desks_closed']} desks closed"
                       + ("" if result["closed"] else " (a visitor is still being served)"))


@cli.command()
def scheduler():
    """Enqueue the periodic jobs (closing service days each minute) for the workers."""
    import redis
    from rq.cron import CronScheduler

    with redis_url() as url:
        cron = CronScheduler(connection=redis.Redis.from_url(url))
        cron.load_config_from_file(Config.SCHEDULE_MODULE)
        cron.start()


@cli.command("create-staff")
@click.option("--site", "site_id", required=True)
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True,
              help="Shown to colleagues, never to visitors.")
@click.option("--role", type=click.Choice(["staff", "manager", "admin"]), default="staff")
@click.option("--language", "languages", multiple=True, help="A language they speak (repeat).")
@click.option("--organisation", "organisations", multiple=True,
              help="An organisation they work for (repeat).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of generating one.")
def create_staff_command(site_id, username, display_name, role, languages, organisations,
                         password_stdin):
    """Create a staff account; prints a generated password once."""
    from tessera.database import Database
    from tessera.errors import TesseraError
    from tessera.staff.accounts import create_staff

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    database = Database(Config.DATABASE_URL)
    try:
        with database.session() as session:
            _staff, password = create_staff(session, site_id, username, display_name, role,
                                            list(languages), list(organisations), password)
    except TesseraError as error:
        _fail(error.message)
    click.echo(f"Created {role} '{username}'.")
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@cli.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--days", default=10, show_default=True, help="Seeded days to average over.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def simulate(scenario, days, as_json):
    """Replay simulated days under each routing policy and compare them."""
    from tessera.planning.report import render_table
    from tessera.planning.simulator import simulate as run
    from tessera.queue.live import LiveState

    with redis_url() as url:
        import redis

        try:
            report = run(scenario, LiveState(redis.Redis.from_url(url)), days=days)
        except ValueError as error:
            _fail(str(error))
    click.echo(json.dumps(report, indent=2) if as_json else render_table(report))


@cli.command()
def worker():
    """Run an RQ worker, with its scheduler, for print jobs and other background work."""
    import redis
    from rq import Queue, Worker

    with redis_url() as url:
        connection = redis.Redis.from_url(url)
        queues = [Queue(name, connection=connection) for name in ("print", "default")]
        Worker(queues, connection=connection).work(with_scheduler=True)


@cli.command()
@click.option("--demo", is_flag=True, help="Load the demo centre first.")
def up(demo):
    """Run the whole system on this machine: Redis, migrations, and the Procfile's processes."""
    from tessera.queue.reconcile import reconcile
    from tessera.stores import Stores

    os.environ.setdefault("DATABASE_URL", Config.DATABASE_URL)
    os.environ.setdefault("SECRET_KEY", Config.SECRET_KEY or os.urandom(32).hex())
    with redis_url() as url:
        os.environ["REDIS_URL"] = url
        context = click.get_current_context()
        context.invoke(migrate)
        if demo:
            context.invoke(load_site_command, demo=True)
        stores = Stores.connect(Config.DATABASE_URL, url)
        if demo:
            _create_demo_accounts(stores)
        # A day left open while nothing ran (a night's power cut) ends before anyone queues.
        stores.engine.close_ended_days()
        for site, counts in reconcile(stores.database, stores.live).items():
            click.echo(f"Reconciled {site}: {counts['waiting']} waiting.")
        stores.database.engine.dispose()
        _run_procfile(Config.HOST, Config.PORT, "demo" if demo else None)


DEMO_ACCOUNTS = [  # username, role, organisations, languages
    ("demo-staff", "staff", ["municipality"], ["el", "en"]),
    ("demo-manager", "manager", [], ["el", "en"]),
    ("demo-admin", "admin", [], ["el", "en"]),
]


def _create_demo_accounts(stores) -> None:
    """On a demo centre without staff, one account per role, each with a fresh password."""
    from sqlalchemy import select

    from tessera.models import Staff
    from tessera.staff.accounts import create_staff

    with stores.database.session() as session:
        if session.scalar(select(Staff.id).where(Staff.site_id == "demo")) is not None:
            return
        created = [(username, role, create_staff(session, "demo", username,
                                                 username.replace("-", " ").title(), role,
                                                 languages, organisations)[1])
                   for username, role, organisations, languages in DEMO_ACCOUNTS]
    click.echo("\nDemo accounts (passwords are shown this once):")
    for username, role, password in created:
        click.echo(f"  {role:8} {username:13} {password}")


def _run_procfile(host: str, port: int, site_id: str | None) -> None:
    """Start every Procfile process; stop them all when one ends or on Ctrl-C."""
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() and not name.startswith("#") and name.strip() != "release":
            processes[name.strip()] = subprocess.Popen(
                ["sh", "-c", f"exec {command.strip()}"], cwd=PROCFILE.parent,
                env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                     "HOST": host, "PORT": str(port)})
    base = f"http://{host}:{port}"
    click.echo(f"\nTessera is running at {base}/")
    if site_id:
        click.echo(f"  kiosk          {base}/kiosk/{site_id}/entrance\n"
                   f"  hall display   {base}/display/{site_id}\n"
                   f"  counter        {base}/counter\n"
                   f"  manager        {base}/manager")
    click.echo(f"  health         {base}/healthz\n"
               f"Processes: {', '.join(f'{n} (pid {p.pid})' for n, p in processes.items())}. "
               "Press Ctrl-C to stop.")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(p.poll() is None for p in processes.values()):
        time.sleep(0.5)
    for name, process in processes.items():
        if process.poll() is not None and not stopping:
            click.echo(f"{name} exited with {process.returncode}; stopping the others.", err=True)
        process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

