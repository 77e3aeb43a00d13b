"""Centres of every shape: seeded scenario files for the simulator (issue 12).

    python -m tessera scenarios generate --count N --seed S [--out DIR]

The routing policy was tuned on one reference day; these centres are for
checking that it holds on others. Each generated centre is a scenario of the
existing format (tessera/planning/scenario.py), drawn from its own stream of
random numbers (the generator seed and the centre's index), so centre i of
seed S is the same file whatever --count is, and the same on every machine:

- 3 to 15 desks, 3 to 12 languages with skewed shares (the site language
  among them), 3 to 12 services, each served by one desk or more, desks
  serving one to four services, so that services share desks;
- referral chains (a service may send visitors on to later services, so
  chains end), priority and interpreter needs;
- a load from 60% to 105% of what the desks can serve over the hours of
  arrival (see `capacity_load`), with arrivals peaking at some hour;
- in about half the centres, a share of booked visits.
"""

import itertools
import math
import random
from collections import defaultdict
from pathlib import Path

import yaml

DESKS = (3, 15)
LANGUAGES = (3, 12)
SERVICES = (3, 12)
LOAD = (0.60, 1.05)
# The share of centres that take appointments.
BOOKING_CENTRES = 0.5

# Site languages of European One-Stop-Shops, then the visitors' languages the
# seeds name; codes only, as the scenario format has them.
SITE_LANGUAGES = ("el", "it", "es", "de", "fr", "nl", "pt", "sv", "pl", "bg")
VISITOR_LANGUAGES = ("ar", "fa", "ps", "uk", "ru", "ti", "so", "fr", "en", "ur", "ku", "tr",
                     "bn", "am", "ln", "es", "sq", "ka", "hi", "wo")
# name, organisation, mean handling (minutes, a range), target wait (minutes, choices)
SERVICE_KINDS = (
    ("information", "municipality", (3, 6), (10, 15)),
    ("registration", "municipality", (8, 15), (20, 30)),
    ("certificates", "municipality", (5, 10), (15, 20, 30)),
    ("residence_permits", "migration", (12, 25), (30, 45, 60)),
    ("job_counselling", "employment", (12, 20), (30, 45)),
    ("job_matching", "employment", (10, 15), (30, 45)),
    ("housing", "housing", (12, 20), (30, 45, 60)),
    ("health_access", "health", (8, 14), (20, 30)),
    ("legal_advice", "legal", (15, 30), (45, 60, 90)),
    ("language_courses", "education", (4, 8), (15, 20)),
    ("social_benefits", "welfare", (10, 18), (30, 45)),
    ("school_enrolment", "education", (8, 12), (20, 30)),
)
PREFIXES = "ABCDEFGHJKLM"


def _skewed_shares(draw: random.Random, count: int, skew: tuple[float, float]) -> list[float]:
    # Zipf-like shares with a drawn exponent, rounded to 3 decimals that add up
    # to exactly 1 (the loader allows rounding, this leaves it nothing to allow).
    exponent = draw.uniform(*skew)
    weights = [1 / (rank + 1) ** exponent for rank in range(count)]
    total = sum(weights)
    shares = [round(weight / total, 3) for weight in weights]
    shares[0] = round(1 - sum(shares[1:]), 3)
    return shares


def expected_work_minutes(raw: dict) -> dict[str, float]:
    """Per service, the expected minutes of handling per visit, referrals followed."""
    steps = {name: fields["share"] for name, fields in raw["services"].items()}
    flowing = dict(steps)
    for _ in range(8):  # the simulator's longest journey
        onward: dict[str, float] = defaultdict(float)
        for source, count in flowing.items():
            for target, chance in (raw.get("referrals") or {}).get(source, {}).items():
                onward[target] += count * chance
        for name, count in onward.items():
            steps[name] += count
        flowing = onward
    return {name: steps[name] * fields["mean"] for name, fields in raw["services"].items()}


def capacity_per_visitor(raw: dict) -> float:
    """How many visitors per desk-minute the desks can serve, at best, as a max flow.

    Desks serve only their services, so the bound is the tightest group of
    services: for every set S of services, the desks serving any of them can
    give len(desks) minutes a minute to S's work per visitor. The smallest
    ratio over all sets (at most 2^12 of them) is exact by Hall's theorem, as
    work may be split across desks. Returned per desk so it is comparable.
    """
    work = expected_work_minutes(raw)
    names = [name for name in raw["services"] if work[name] > 0]
    serving = {name: {desk for desk, spec in raw["counters"].items()
                      if name in spec["services"]} for name in names}
    best = math.inf
    for size in range(1, len(names) + 1):
        for group in itertools.combinations(names, size):
            desks = set().union(*(serving[name] for name in group))
            best = min(best, len(desks) / sum(work[name] for name in group))
    return best / len(raw["counters"])


def arrival_minutes(raw: dict) -> float:
    """Minutes from opening until arrivals stop."""
    return raw["open_hours"] * 60 - raw.get("arrivals_stop_before_close", 0)


def capacity_load(raw: dict) -> float:
    """Offered work over what the desks can serve while visitors arrive (1 = full).

    The day's expected visitors times their work, over the best the desks'
    skills allow (capacity_per_visitor) during the hours of arrival; the
    queue left at the end is served after arrivals stop.
    """
    minutes = arrival_minutes(raw)
    visitors = sum(rate * max(0.0, min(60.0, minutes - 60 * hour)) / 60
                   for hour, rate in enumerate(raw["arrivals_per_hour"]))
    served_at_most = capacity_per_visitor(raw) * len(raw["counters"]) * minutes
    return visitors / served_at_most


def _counters(draw: random.Random, services: list[str], work: dict[str, float],
              desks: int, site_language: str, languages: list[str],
              language_shares: list[float]) -> dict:
    # Every service gets a home desk; desks are dealt to services by their work,
    # so a busy service gets more, then some desks take a second, third or
    # fourth service: the overlap the routing exploits.
    served: list[list[str]] = [[] for _ in range(desks)]
    by_work = sorted(services, key=lambda name: -work[name])
    for index, name in enumerate(by_work):
        served[index % desks].append(name)
    for index in range(len(services), desks):
        # A spare desk goes to the service with the most work per desk so far.
        per_desk = {name: work[name] / sum(name in desk for desk in served) for name in services}
        served[index].append(max(services, key=lambda name: per_desk[name]))
    for desk in served:
        for _ in range(draw.choice((0, 1, 1, 2, 2, 3))):
            if len(desk) >= 4:
                break
            extra = draw.choice(services)
            if extra not in desk:
                desk.append(extra)
    others = [code for code in languages if code != site_language]
    weights = [share for code, share in zip(languages, language_shares, strict=True)
               if code != site_language]
    counters = {}
    for index, desk in enumerate(served, start=1):
        # Staff speak languages the visitors bring, the common ones more often;
        # some desks speak only the site language.
        spoken = []
        for _ in range(draw.choice((0, 1, 1, 2, 2, 3))):
            code = draw.choices(others, weights)[0]
            if code not in spoken:
                spoken.append(code)
        counters[f"desk-{index}"] = {"services": desk, "languages": [site_language, *spoken]}
    return counters


def _referrals(draw: random.Random, services: list[str]) -> dict:
    # Only onward to a later service in the list, so every chain ends.
    referrals = {}
    for index, source in enumerate(services[:-1]):
        if draw.random() < 0.4:
            continue
        later = services[index + 1:]
        targets = draw.sample(later, min(len(later), draw.choice((1, 1, 2))))
        budget = draw.uniform(0.1, 0.45)
        split = [draw.uniform(0.3, 1) for _ in targets]
        referrals[source] = {target: round(budget * part / sum(split), 3)
                             for target, part in zip(targets, split, strict=True)}
    return referrals


def _arrival_profile(draw: random.Random, open_hours: int) -> list[float]:
    # A peak at some hour, falling off on both sides: the morning rush of most
    # centres, or an afternoon one.
    peak = draw.randrange(open_hours)
    width = draw.uniform(1.5, 4)
    return [0.35 + math.exp(-((hour - peak) / width) ** 2) for hour in range(open_hours)]


def generate_centre(seed: int, index: int) -> dict:
    """Centre `index` of generator seed `seed`, as the mapping its scenario file holds."""
    draw = random.Random(f"tessera-centre:{seed}:{index}")
    desks = draw.randint(*DESKS)
    service_count = draw.randint(*SERVICES)
    language_count = draw.randint(*LANGUAGES)
    load = round(draw.uniform(*LOAD), 3)

    site_language = draw.choice(SITE_LANGUAGES)
    visitors = draw.sample([code for code in VISITOR_LANGUAGES if code != site_language],
                           language_count - 1)
    # The site language takes its place in the skewed order at random: in some
    # centres most visitors speak it, in others few do.
    languages = list(visitors)
    languages.insert(draw.randrange(language_count), site_language)
    language_shares = _skewed_shares(draw, language_count, (0.6, 1.6))

    kinds = draw.sample(SERVICE_KINDS, service_count)
    service_shares = _skewed_shares(draw, service_count, (0.3, 1.2))
    draw.shuffle(service_shares)
    services = {}
    for position, (name, organisation, handling, targets) in enumerate(kinds):
        services[name] = {"org": organisation, "prefix": PREFIXES[position],
                          "mean": round(draw.uniform(*handling), 1),
                          "target": draw.choice(targets), "share": service_shares[position]}
    names = list(services)
    referrals = _referrals(draw, names)

    open_hours = draw.randint(6, 10)
    raw = {
        "name": f"centre-{seed}-{index:03d}",
        "seed": draw.randrange(1, 2**31),
        "open_hours": open_hours,
        "arrivals_stop_before_close": draw.choice((0, 15, 30, 30, 45)),
        "handling_cv": round(draw.uniform(0.5, 0.9), 2),
        "site_language": site_language,
        "languages": dict(zip(languages, language_shares, strict=True)),
        "needs": {"priority": round(draw.uniform(0.03, 0.15), 3),
                  "interpreter": round(draw.uniform(0.0, 0.08), 3)},
        "organisations": sorted({fields["org"] for fields in services.values()}),
        "services": services,
        "referrals": referrals,
    }
    work = expected_work_minutes(raw)
    raw["counters"] = _counters(draw, names, work, desks, site_language, languages,
                                language_shares)
    profile = _arrival_profile(draw, open_hours)
    if draw.random() < BOOKING_CENTRES:
        raw["appointments"] = {
            "share": round(draw.uniform(0.1, 0.4), 2),
            "slot_minutes": draw.choice((10, 15, 20, 30)),
            "punctuality": {"mean": draw.choice((0, 5, 10)), "spread": draw.choice((5, 10))},
            "no_show": round(draw.uniform(0.05, 0.15), 2),
        }
    # Scale the hourly shape so the day's expected work is `load` of capacity.
    raw["arrivals_per_hour"] = profile
    scale = load / capacity_load(raw)
    raw["arrivals_per_hour"] = [round(rate * scale, 2) for rate in profile]
    return raw


def generate(count: int, seed: int, folder: str | Path) -> list[Path]:
    """Write `count` centres of `seed` into `folder` (created if need be); their paths."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"The number of centres must be a whole number of at least 1, "
                         f"not {count!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        raw = generate_centre(seed, index)
        path = folder / f"{raw['name']}.yaml"
        header = (f"# Generated by `python -m tessera scenarios generate --seed {seed}` "
                  f"(centre {index}): {len(raw['counters'])} desks, "
                  f"{len(raw['services'])} services, {len(raw['languages'])} languages, "
                  f"load {capacity_load(raw):.0%} of capacity.\n")
        path.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        paths.append(path)
    return paths
