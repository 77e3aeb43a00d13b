"""The command line: `python -m tessera COMMAND`."""

import json
import os
import signal
import sys
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
    """Create or update a site from a YAML file (idempotent); what it removes retires safely."""
    from tessera.sites.loader import DEMO_SITE, SiteFileError, read_site_file
    from tessera.sites.retirement import load_site_safely

    if bool(path) == bool(demo):
        _fail("Give either a site file or --demo.")
    try:
        document = read_site_file(DEMO_SITE if demo else path)
        # The engine closes the desks the file removes (Redis hears of it), as /admin does.
        with connected_stores() as stores:
            outcome = load_site_safely(stores.engine, document)
            stores.database.engine.dispose()
    except SiteFileError as error:
        _fail(str(error))
    click.echo(f"Site '{document['id']}' loaded: {len(document['services'])} services, "
               f"{len(document.get('counters') or {})} counters.")
    for key in outcome["retiring_services"]:
        click.echo(f"Service '{key}' is retiring: no longer issued; its waiting visitors are "
                   "still served, then it becomes inactive.")
    for key, reason in outcome["desks_not_retired"].items():
        click.echo(f"Desk '{key}' is not retired yet: {reason} Load the file again after.")


@cli.command("export-site")
@click.option("--site", "site_id", required=True, help="The site's id.")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="The file to write (default: standard output).")
def export_site_command(site_id, out):
    """Write a site file of what the database holds (no staff, no secrets); load-site
    reads it back into the same centre."""
    from tessera.database import Database
    from tessera.errors import TesseraError
    from tessera.sites.export import export_site

    try:
        with Database(Config.DATABASE_URL).session() as session:
            text = export_site(session, site_id)
    except TesseraError as refused:
        _fail(refused.message)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"Site '{site_id}' written to {out}.", err=True)
    else:
        click.echo(text, nl=False)


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


@cli.command("roll-up")
@click.option("--site", "site_id", help="Only this site (default: every site).")
@click.option("--rebuild", "from_scratch", is_flag=True,
              help="Drop the roll-ups and roll every closed day up again from the events.")
def roll_up_command(site_id, from_scratch):
    """Roll the closed service days up for the reports (the worker does it every few minutes)."""
    from tessera.database import Database
    from tessera.errors import TesseraError
    from tessera.reports.rollups import roll_up_sites

    try:
        rolled = roll_up_sites(Database(Config.DATABASE_URL), site_id, from_scratch=from_scratch)
    except TesseraError as error:
        _fail(error.message)
    for site, days in rolled.items():
        click.echo(f"{site}: {len(days)} days rolled up"
                   + (f" ({days[0].isoformat()} to {days[-1].isoformat()})" if days else ""))


@cli.command()
def scheduler():
    """Enqueue the periodic jobs (closing service days each minute) for the workers."""
    from rq.cron import CronScheduler

    from tessera.processes import run_scheduler
    from tessera.redis_client import redis_client

    def loaded_scheduler():
        cron = CronScheduler(connection=connection)
        cron.load_config_from_file(Config.SCHEDULE_MODULE)
        return cron

    with redis_url() as url:
        connection = redis_client(url)
        # A new scheduler after each Redis outage, rather than the process ending.
        run_scheduler(loaded_scheduler, connection)


@cli.command("create-staff")
@click.option("--site", "site_id", required=True)
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True,
              help="Shown to colleagues, never to visitors.")
@click.option("--role", type=click.Choice(["staff", "organisation_manager", "manager", "admin"]),
              default="staff")
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


def _utc_now():
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of generating one.")
def set_password_command(username, password_stdin):
    """Give an account a new password; ends its sessions and revokes its tokens."""
    from tessera.database import Database
    from tessera.errors import TesseraError
    from tessera.staff.accounts import set_password

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        with Database(Config.DATABASE_URL).session() as session:
            password = set_password(session, username, password, _utc_now())
    except TesseraError as error:
        _fail(error.message)
    click.echo(f"New password set for '{username}'; their sessions and tokens have ended.")
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@cli.command("deactivate-staff")
@click.argument("username")
def deactivate_staff_command(username):
    """Deactivate an account: no more sign-ins, its sessions end, its tokens are revoked."""
    from sqlalchemy import select

    from tessera.database import Database
    from tessera.errors import TesseraError
    from tessera.models import Counter, CounterStatus, Staff
    from tessera.staff.accounts import deactivate_staff

    try:
        with Database(Config.DATABASE_URL).session() as session:
            sessions, tokens = deactivate_staff(session, username, _utc_now())
    except TesseraError as error:
        _fail(error.message)
    click.echo(f"Deactivated '{username}': {sessions} sessions ended, {tokens} tokens revoked.")
    # Their open desks close, as on signing out: nobody should wait for a desk nobody holds.
    with connected_stores() as stores:
        with stores.database.session() as session:
            open_desks = list(session.scalars(select(Counter.id).join(
                Staff, Counter.staff_id == Staff.id).where(
                Staff.username == username, Counter.status != CounterStatus.CLOSED)))
        for counter_id in open_desks:
            try:
                stores.engine.close_counter(counter_id)
            except TesseraError as error:  # a visitor still being served there
                click.echo(f"Desk {counter_id} stays open: {error.message}", err=True)


@cli.command("pair-device")
@click.option("--site", "site_id", required=True, help="The site's id.")
@click.option("--device", "kiosk_key", required=True, help="The kiosk's key in the site file.")
@click.option("--minutes", type=click.IntRange(min=1, max=24 * 60), default=15,
              show_default=True, help="How long the code works.")
def pair_device_command(site_id, kiosk_key, minutes):
    """Make a one-time pairing code for a kiosk; prints it and the pairing link once."""
    from tessera.database import Database
    from tessera.errors import TesseraError

    try:
        with Database(Config.DATABASE_URL).session() as session:
            code, expires = _start_pairing(session, site_id, kiosk_key, minutes)
    except TesseraError as refused:
        _fail(refused.message)
    click.echo(f"Pairing code for kiosk '{kiosk_key}' at '{site_id}' (shown once, works once, "
               f"until {expires:%H:%M} UTC): {code}")
    click.echo(f"On the kiosk, open {_pairing_link(site_id, kiosk_key, code)}")


def _start_pairing(session, site_id: str, kiosk_key: str, minutes: int):
    from tessera.devices.pairing import start_pairing

    return start_pairing(session, site_id, kiosk_key, _utc_now(), minutes)


def _pairing_link(site_id: str, kiosk_key: str, code: str) -> str:
    """The kiosk's pairing page with the code filled in (staff still press Pair)."""
    base = (Config.PUBLIC_URL or f"http://{Config.HOST}:{Config.PORT}").rstrip("/")
    return f"{base}/kiosk/{site_id}/{kiosk_key}/pair?code={code}"


@cli.group()
def tokens():
    """Bearer tokens for scripts and desk devices: issue, list, revoke."""


@tokens.command("issue")
@click.argument("username")
@click.option("--label", default="", help="What the token is for, e.g. 'desk 4 tablet'.")
@click.option("--days", type=click.IntRange(min=1), help="Days it works (default 90).")
def tokens_issue(username, label, days):
    """Issue a token for an active account; prints it once (only its hash is kept)."""
    from sqlalchemy import select

    from tessera.database import Database
    from tessera.models import Staff
    from tessera.staff.auth import TOKEN_DAYS, issue_token

    with Database(Config.DATABASE_URL).session() as session:
        staff = session.scalars(select(Staff).where(Staff.username == username,
                                                    Staff.active)).first()
        if staff is None:
            _fail(f"There is no active member of staff '{username}'.")
        token = issue_token(session, staff, label[:100], days or TOKEN_DAYS, _utc_now())
    click.echo(f"Token for '{username}', valid {days or TOKEN_DAYS} days (shown once):")
    click.echo(token)


@tokens.command("list")
def tokens_list():
    """Every token: id, member of staff, label, created, expires, state (never the token)."""
    from tessera.database import Database
    from tessera.staff.auth import list_tokens, token_expiry

    now = _utc_now()
    with Database(Config.DATABASE_URL).session() as session:
        rows = [(row.id, row.staff.username, row.label, row.created_at, token_expiry(row),
                 "revoked" if row.revoked else "expired" if token_expiry(row) <= now
                 else "active") for row in list_tokens(session)]
    click.echo(f"{'id':>5}  {'username':20} {'created':16}  {'expires':16}  {'state':8} label")
    for token_id, username, label, created, expires, state in rows:
        click.echo(f"{token_id:>5}  {username:20} {created:%Y-%m-%d %H:%M}  "
                   f"{expires:%Y-%m-%d %H:%M}  {state:8} {label}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id):
    """Revoke a token by its id (from `tokens list`); it stops working at once."""
    from tessera.database import Database
    from tessera.staff.auth import revoke_token

    with Database(Config.DATABASE_URL).session() as session:
        if revoke_token(session, token_id) is None:
            _fail(f"There is no token {token_id}.")
    click.echo(f"Token {token_id} revoked.")


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
        from tessera.redis_client import redis_client

        try:
            report = run(scenario, LiveState(redis_client(url)), days=days)
        except ValueError as error:
            _fail(str(error))
    click.echo(json.dumps(report, indent=2) if as_json else render_table(report))



@cli.group()
def scenarios():
    """Scenario files for the simulator."""


@scenarios.command("generate")
@click.option("--count", type=click.IntRange(min=1), required=True,
              help="How many centres to write.")
@click.option("--seed", type=int, required=True,
              help="Generator seed: the same seed writes the same centres.")
@click.option("--out", "folder", type=click.Path(file_okay=False), default="scenarios",
              show_default=True, help="Folder to write the files into (created if need be).")
def scenarios_generate(count, seed, folder):
    """Write COUNT generated centres of every shape (issue 12) as scenario files."""
    import yaml

    from tessera.planning.generator import capacity_load, generate
    from tessera.planning.scenario import load_scenario

    for path in generate(count, seed, folder):
        # Each file is read back by the simulator's own loader, so a file
        # written here is one `simulate` accepts.
        scenario = load_scenario(path)
        load = capacity_load(yaml.safe_load(path.read_text(encoding="utf-8")))
        click.echo(f"{path}: {len(scenario.counters)} desks, {len(scenario.services)} "
                   f"services, {len(scenario.languages)} languages, load {load:.0%}"
                   + (", with appointments" if scenario.appointments else ""))

@cli.command("plan")
@click.option("--site", "site_id", help="Plan from this site's history (with --from and --to).")
@click.option("--from", "first", help="First service day of the history, YYYY-MM-DD.")
@click.option("--to", "last", help="Last service day of the history, YYYY-MM-DD.")
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False),
              help="Plan from a scenario file instead (one typical day).")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.8, show_default=True,
              help="Share of visitors to call within their service's target wait.")
@click.option("--days", type=click.IntRange(min=1, max=30), default=1, show_default=True,
              help="Simulated days to check the plan on.")
@click.option("--weekday", type=click.IntRange(0, 6), default=0, show_default=True,
              help="With --scenario: the weekday its day stands for (0 = Monday).")
@click.option("--opens-at", type=click.IntRange(0, 23), default=9, show_default=True,
              help="With --scenario: the hour its day opens.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the rows to this CSV file ('-' for standard output).")
def plan_command(site_id, first, last, scenario, share, days, weekday, opens_at, as_json,
                 csv_path):
    """Staffing plan: desks per service and hour (Erlang C, checked in the simulator)."""
    from tessera.planning.staffing import make_plan, public_rows, rows_csv

    if bool(site_id) == bool(scenario):
        _fail("Give either --site with --from and --to, or --scenario.")
    if site_id and not (first and last):
        _fail("--site needs --from and --to (YYYY-MM-DD).")
    demands = _plan_demands(site_id, first, last, scenario, weekday, opens_at)
    with redis_url() as url:
        from tessera.queue.live import LiveState
        from tessera.redis_client import redis_client

        result = make_plan(demands, LiveState(redis_client(url)), share, days)
    if csv_path == "-":
        click.echo(rows_csv(result["rows"]), nl=False)
    elif csv_path:
        Path(csv_path).write_text(rows_csv(result["rows"]), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(public_rows(result["rows"]), indent=2))
    elif csv_path != "-":
        from tessera.planning.plan_text import render_plan

        click.echo(render_plan(result))


def _plan_demands(site_id, first, last, scenario, weekday, opens_at):
    """The weekdays to plan, from a site's history or a scenario file (ClickException if bad)."""
    import datetime as dt

    from tessera.errors import TesseraError
    from tessera.planning.demand import demand_from_history, demand_from_scenario
    from tessera.planning.scenario import load_scenario

    if scenario:
        try:
            return [demand_from_scenario(load_scenario(scenario), weekday, opens_at)]
        except ValueError as error:
            _fail(str(error))
    from tessera.database import Database

    try:
        first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        _fail("--from and --to must be dates written YYYY-MM-DD.")
    try:
        with Database(Config.DATABASE_URL).session() as session:
            demands = demand_from_history(session, site_id, first_day, last_day)
    except TesseraError as error:
        _fail(error.message)
    if not demands:
        _fail(f"No visits at '{site_id}' from {first} to {last}: nothing to plan from.")
    return demands


@cli.command()
def worker():
    """Run an RQ worker, with its scheduler, for print jobs and other background work."""
    from tessera.processes import run_worker
    from tessera.redis_client import redis_client

    with redis_url() as url:
        # Through Redis outages: RQ's own worker would quit at the first one.
        run_worker(redis_client(url), ("print", "default", "announcements"),
                   with_scheduler=True)


@cli.command()
@click.option("--language", required=True, help="Language code, e.g. el, ar, so.")
@click.option("--ticket", required=True, help="Ticket number, e.g. A-042.")
@click.option("--desk", required=True, help='The desk\'s name as said, e.g. "Desk 4".')
@click.option("--desk-key", help="The desk's key, for a voice pack's clip (default: from --desk).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The WAV file to write.")
def say(language, ticket, desk, desk_key, out_path):
    """Render one announcement to a WAV file, to hear a voice before the day starts."""
    from tessera.voice import Announcement, Settings, announcement_text, synthesise

    key = desk_key or "-".join(desk.lower().split())
    wanted = Announcement(language, ticket, key, desk)
    made = synthesise(wanted, Settings.from_environment())
    if made is None:
        _fail(f"No voice for '{language}' here (no Piper voice, voice pack or eSpeak NG "
              "voice): displays give the chime and the site language's announcement.")
    voice, sound = made
    Path(out_path).write_bytes(sound.wav_bytes())
    click.echo(f"{out_path}: {sound.seconds:.1f} s, {voice.split(':')[0]}: "
               f"{announcement_text(wanted)}")


@cli.command("voice-pack")
@click.option("--site", "site_id", required=True)
@click.option("--language", required=True)
def voice_pack(site_id, language):
    """List the clips a language's voice pack still needs for a site (VOICE_PACKS folder)."""
    from sqlalchemy import select

    from tessera.database import Database
    from tessera.models import Counter, Service
    from tessera.voice import Settings
    from tessera.voice.packs import missing_clips, pack_folder

    with Database(Config.DATABASE_URL).session() as session:
        prefixes = list(session.scalars(select(Service.prefix).where(
            Service.site_id == site_id, Service.active)))
        keys = list(session.scalars(select(Counter.key).where(
            Counter.site_id == site_id, Counter.active).order_by(Counter.key)))
    if not prefixes and not keys:
        _fail(f"There is no site '{site_id}' with services or desks.")
    folder = pack_folder(Settings.from_environment().packs, language)
    missing = missing_clips(folder.parent, language, prefixes, keys)
    for name in missing:
        click.echo(name)
    click.echo(f"{len(missing)} clips missing in {folder}" if missing
               else f"{folder} has every clip.", err=True)


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
            # A fresh code each start: the demo kiosk's browser pairs with one click.
            with stores.database.session() as session:
                demo_code = _start_pairing(session, "demo", "entrance", 60)[0]
        # A day left open while nothing ran (a night's power cut) ends before anyone queues.
        stores.engine.close_ended_days()
        for site, counts in reconcile(stores.database, stores.live).items():
            click.echo(f"Reconciled {site}: {counts['waiting']} waiting.")
        stores.database.engine.dispose()
        _run_procfile(Config.HOST, Config.PORT, "demo" if demo else None,
                      demo_code if demo else None)


DEMO_ACCOUNTS = [  # username, role, organisations, languages
    ("demo-staff", "staff", ["municipality"], ["el", "en"]),
    ("demo-partner", "organisation_manager", ["municipality"], ["el", "en"]),
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
        click.echo(f"  {role:20} {username:13} {password}")


def procfile_commands(procfile: Path = PROCFILE) -> dict[str, list[str]]:
    """The Procfile's processes (not `release`), each as a command for `sh`."""
    commands = {}
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() and not name.startswith("#") and name.strip() != "release":
            commands[name.strip()] = ["sh", "-c", f"exec {command.strip()}"]
    return commands


def _run_procfile(host: str, port: int, site_id: str | None,
                  pairing_code: str | None = None) -> None:
    """Run every Procfile process, restarting one that exits, until Ctrl-C or SIGTERM."""
    from tessera.processes import Supervisor, pids

    supervisor = Supervisor(
        procfile_commands(), cwd=str(PROCFILE.parent),
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
             "HOST": host, "PORT": str(port)},
        echo=lambda line: click.echo(line, err=True))
    supervisor.start()
    base = f"http://{host}:{port}"
    click.echo(f"\nTessera is running at {base}/")
    if site_id:
        click.echo(f"  kiosk          {base}/kiosk/{site_id}/entrance\n"
                   f"  hall display   {base}/display/{site_id}\n"
                   f"  counter        {base}/counter\n"
                   f"  manager        {base}/manager")
    if site_id and pairing_code:
        click.echo(f"  pair the kiosk {base}/kiosk/{site_id}/entrance/pair?code={pairing_code}"
                   " (once per browser; the code works once, for an hour)")
    click.echo(f"  health         {base}/healthz\n"
               f"Processes: {pids(supervisor)}. Press Ctrl-C to stop.")

    def stop(*_):
        supervisor.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        # A process that dies (the worker on a Redis blip) is restarted; the others go on.
        while not supervisor.stopping.wait(0.5):
            supervisor.poll()
    finally:
        supervisor.stop()
