"""The scenario file of the simulator: its form, and the checks that make a file usable.

A scenario (see ../shared/scenarios/oss-reference.yaml for the form)
describes the services, the counters and who speaks what at each, and the
visitors of a typical day: how many come each hour, in which language, with
which needs, asking for which service, and where they are referred next.

An optional `appointments:` section makes a share of those visits booked:

    appointments:
      share: 0.2             # of all visits; or per first service, e.g.
                             # share: {legal_advice: 0.5, housing: 0.3} (others 0)
      slot_minutes: 15       # slots follow each other from opening; the last
                             # one ends when arrivals stop
      punctuality: {mean: 5, spread: 10}   # minutes early (late is negative),
                             # normally distributed; optional, default 0 and 0
      no_show: 0.1           # chance a booked visitor never comes; optional, 0

A booked visit keeps the journey, language and needs it was drawn with; its
slot is drawn uniformly among the day's slots, and it arrives at the slot
less its punctuality offset (never before opening), unless it is a no-show.
Without the section, or with a share of 0, the visits are the walk-ins alone,
exactly as drawn without it.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

# Shares read from a file may be rounded; beyond this they are a mistake.
SHARE_TOLERANCE = 0.01
KNOWN_NEEDS = ("priority", "interpreter")


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the scenario, with its times in seconds."""

    name: str
    service_id: int
    organisation: str | None
    prefix: str | None
    mean_handling_seconds: float
    target_seconds: float
    share: float


@dataclass(frozen=True)
class CounterSpec:
    """One counter (desk): the services it serves and the languages its staff speak."""

    name: str
    counter_id: int
    services: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class AppointmentSpec:
    """The scenario's booked visits: which share, which slots, how punctual; times in seconds."""

    shares: dict[str, float]  # per first service; a service not booked has 0
    slot_seconds: float
    early_mean_seconds: float  # positive: booked visitors come before their slot
    early_spread_seconds: float
    no_show: float


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    name: str
    seed: int
    open_hours: int
    arrivals_stop_before_close_minutes: float
    handling_cv: float
    site_language: str
    languages: dict[str, float]
    needs: dict[str, float]
    services: dict[str, ServiceSpec]
    referrals: dict[str, dict[str, float]]
    counters: tuple[CounterSpec, ...]
    arrivals_per_hour: tuple[float, ...]
    appointments: AppointmentSpec | None = None


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"Scenario {path}: {message}")


def _number(path: str, where: str, value, *, positive=False, minimum=None, maximum=None):
    # YAML reads `yes` as True, and bool is an int in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _fail(path, f"{where} must be a number, not {value!r}.")
    if positive and value <= 0:
        raise _fail(path, f"{where} must be greater than 0, not {value!r}.")
    if minimum is not None and value < minimum:
        raise _fail(path, f"{where} must be at least {minimum}, not {value!r}.")
    if maximum is not None and value > maximum:
        raise _fail(path, f"{where} must be at most {maximum}, not {value!r}.")
    return float(value)


def _mapping(path: str, where: str, value) -> dict:
    if not isinstance(value, dict) or not value:
        raise _fail(path, f"{where} must be a non-empty mapping.")
    return value


def _shares(path: str, where: str, value) -> dict[str, float]:
    mapping = _mapping(path, where, value)
    for key in mapping:
        # YAML reads a bare `no` (Norwegian) as False.
        if not isinstance(key, str):
            raise _fail(path, f"{where}: {key!r} is not a name; put it in quotes.")
    shares = {key: _number(path, f"{where}.{key}", share, minimum=0, maximum=1)
              for key, share in mapping.items()}
    total = sum(shares.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        raise _fail(path, f"the shares in {where} must add up to 1, not {total:.3f}.")
    return shares


APPOINTMENT_KEYS = ("share", "slot_minutes", "punctuality", "no_show")


def _appointments(path: str, raw, services: dict[str, ServiceSpec],
                  arrival_minutes: float) -> AppointmentSpec:
    if not isinstance(raw, dict):
        raise _fail(path, "appointments must be a mapping with share and slot_minutes.")
    unknown = [str(key) for key in raw if key not in APPOINTMENT_KEYS]
    if unknown:
        raise _fail(path, f"appointments: unknown setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(APPOINTMENT_KEYS)}.")
    for key in ("share", "slot_minutes"):
        if key not in raw:
            raise _fail(path, f"appointments is missing '{key}'.")
    if isinstance(raw["share"], dict):
        strangers = [str(name) for name in raw["share"] if name not in services]
        if strangers:
            raise _fail(path, f"appointments.share: no such service(s) {', '.join(strangers)}.")
        shares = {name: _number(path, f"appointments.share.{name}", raw["share"].get(name, 0),
                                minimum=0, maximum=1) for name in services}
    else:
        overall = _number(path, "appointments.share", raw["share"], minimum=0, maximum=1)
        shares = dict.fromkeys(services, overall)
    slot_minutes = _number(path, "appointments.slot_minutes", raw["slot_minutes"],
                           positive=True, maximum=arrival_minutes)
    punctuality = raw.get("punctuality", {})
    if not isinstance(punctuality, dict) or set(punctuality) - {"mean", "spread"}:
        raise _fail(path, "appointments.punctuality must be a mapping of mean and spread "
                          "(minutes early).")
    early_mean = _number(path, "appointments.punctuality.mean", punctuality.get("mean", 0),
                         minimum=-arrival_minutes, maximum=arrival_minutes)
    early_spread = _number(path, "appointments.punctuality.spread",
                           punctuality.get("spread", 0), minimum=0, maximum=arrival_minutes)
    no_show = _number(path, "appointments.no_show", raw.get("no_show", 0), minimum=0, maximum=1)
    return AppointmentSpec(shares, 60 * slot_minutes, 60 * early_mean, 60 * early_spread,
                           no_show)


def load_scenario(scenario_path: str | Path) -> Scenario:
    """Read and check a scenario file; raises ValueError saying what is wrong."""
    path = str(scenario_path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror}).") from error
    except yaml.YAMLError as error:
        raise _fail(path, f"is not valid YAML ({error}).") from error
    if not isinstance(raw, dict):
        raise _fail(path, "must be a YAML mapping of settings.")
    required = ("name", "seed", "open_hours", "handling_cv", "site_language", "languages",
                "services", "counters", "arrivals_per_hour")
    missing = [key for key in required if key not in raw]
    if missing:
        raise _fail(path, f"missing setting(s): {', '.join(missing)}.")

    if isinstance(raw["seed"], bool) or not isinstance(raw["seed"], int):
        raise _fail(path, f"seed must be a whole number, not {raw['seed']!r}.")
    open_hours = raw["open_hours"]
    if isinstance(open_hours, bool) or not isinstance(open_hours, int) or open_hours < 1:
        raise _fail(path, f"open_hours must be a whole number of at least 1, not {open_hours!r}.")
    stop_before_close = _number(path, "arrivals_stop_before_close",
                                raw.get("arrivals_stop_before_close", 0), minimum=0,
                                maximum=open_hours * 60)
    handling_cv = _number(path, "handling_cv", raw["handling_cv"], minimum=0)
    site_language = raw["site_language"]
    if not isinstance(site_language, str) or not site_language:
        raise _fail(path, "site_language must be a language code such as 'el'.")
    languages = _shares(path, "languages", raw["languages"])

    needs = raw.get("needs") or {}
    if not isinstance(needs, dict):
        raise _fail(path, "needs must be a mapping of need -> share of visitors.")
    unknown_needs = set(needs) - set(KNOWN_NEEDS)
    if unknown_needs:
        raise _fail(path, f"unknown need(s) {', '.join(sorted(map(str, unknown_needs)))}; "
                          f"known needs: {', '.join(KNOWN_NEEDS)}.")
    needs = {need: _number(path, f"needs.{need}", share, minimum=0, maximum=1)
             for need, share in needs.items()}

    organisations = raw.get("organisations")
    if organisations is not None and not isinstance(organisations, list):
        raise _fail(path, "organisations must be a list.")

    services: dict[str, ServiceSpec] = {}
    for index, (name, fields) in enumerate(_mapping(path, "services", raw["services"]).items()):
        where = f"services.{name}"
        if not isinstance(fields, dict):
            raise _fail(path, f"{where} must be a mapping with mean, target and share.")
        for key in ("mean", "target", "share"):
            if key not in fields:
                raise _fail(path, f"{where} is missing '{key}'.")
        organisation = fields.get("org")
        if organisations is not None and organisation not in organisations:
            raise _fail(path, f"{where}.org {organisation!r} is not one of the organisations.")
        services[str(name)] = ServiceSpec(
            name=str(name), service_id=index + 1, organisation=organisation,
            prefix=fields.get("prefix"),
            mean_handling_seconds=60 * _number(path, f"{where}.mean", fields["mean"],
                                               positive=True),
            target_seconds=60 * _number(path, f"{where}.target", fields["target"],
                                        positive=True),
            share=_number(path, f"{where}.share", fields["share"], minimum=0, maximum=1),
        )
    share_total = sum(service.share for service in services.values())
    if abs(share_total - 1) > SHARE_TOLERANCE:
        raise _fail(path, f"the services' shares must add up to 1, not {share_total:.3f}.")

    referrals: dict[str, dict[str, float]] = {}
    raw_referrals = raw.get("referrals") or {}
    if not isinstance(raw_referrals, dict):
        raise _fail(path, "referrals must be a mapping of service -> {next service: probability}.")
    for source, targets in raw_referrals.items():
        if source not in services:
            raise _fail(path, f"referrals.{source}: no such service.")
        chances = {}
        for target, probability in _mapping(path, f"referrals.{source}", targets).items():
            if target not in services:
                raise _fail(path, f"referrals.{source}.{target}: no such service.")
            chances[target] = _number(path, f"referrals.{source}.{target}", probability,
                                      minimum=0, maximum=1)
        if sum(chances.values()) > 1 + 1e-9:
            raise _fail(path, f"the probabilities in referrals.{source} add up to more than 1.")
        referrals[str(source)] = chances

    counters = []
    for index, (name, fields) in enumerate(_mapping(path, "counters", raw["counters"]).items()):
        where = f"counters.{name}"
        if not isinstance(fields, dict):
            raise _fail(path, f"{where} must be a mapping with services and languages.")
        served = fields.get("services")
        if not isinstance(served, list) or not served:
            raise _fail(path, f"{where}.services must be a non-empty list of services.")
        unknown = [service for service in served if service not in services]
        if unknown:
            raise _fail(path, f"{where}.services: no such service(s) "
                              f"{', '.join(map(str, unknown))}.")
        spoken = fields.get("languages")
        if not isinstance(spoken, list) or not all(isinstance(code, str) for code in spoken):
            raise _fail(path, f"{where}.languages must be a list of language codes.")
        # The site language is spoken at every counter, said in the file or not.
        spoken = list(dict.fromkeys([site_language, *spoken]))
        counters.append(CounterSpec(str(name), index + 1, tuple(served), tuple(spoken)))

    hourly = raw["arrivals_per_hour"]
    if not isinstance(hourly, list) or len(hourly) != open_hours:
        raise _fail(path, f"arrivals_per_hour must list one rate for each of the "
                          f"{open_hours} opening hours.")
    hourly = tuple(_number(path, f"arrivals_per_hour[{hour}]", rate, minimum=0)
                   for hour, rate in enumerate(hourly))

    # A service that can be asked for but that no counter serves would keep
    # its visitors waiting forever: a mistake in the file, not a finding.
    served_somewhere = {service for counter in counters for service in counter.services}
    requested = {name for name, service in services.items() if service.share > 0}
    requested |= {target for chances in referrals.values()
                  for target, probability in chances.items() if probability > 0}
    unserved = sorted(requested - served_somewhere)
    if unserved:
        raise _fail(path, f"no counter serves {', '.join(unserved)}.")

    appointments = None
    if raw.get("appointments") is not None:
        appointments = _appointments(path, raw["appointments"], services,
                                     open_hours * 60 - stop_before_close)

    return Scenario(
        name=str(raw["name"]), seed=raw["seed"], open_hours=open_hours,
        arrivals_stop_before_close_minutes=stop_before_close, handling_cv=handling_cv,
        site_language=site_language, languages=languages, needs=needs, services=services,
        referrals=referrals, counters=tuple(counters), arrivals_per_hour=hourly,
        appointments=appointments,
    )
