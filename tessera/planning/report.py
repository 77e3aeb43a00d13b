"""The figures of simulated days: per day, averaged over days, and as a table.

With booked visits (a scenario with `appointments:`), the figures also give
the walk-in mean wait (over every step of the visits without an appointment,
referrals included) and the share of appointments called on time: a booked
visit's first step called at most APPOINTMENT_GRACE_MINUTES after the later
of its slot and the visitor's arrival (a late visitor is timed from arrival,
an early one from the slot; a call before the slot is on time). Both are
means of the daily figures over the days that had any such step.
"""

import math

from tessera.planning.day import ServedStep


def _percentile(sorted_values: list[float], fraction: float) -> float:
    # Nearest rank: a wait some step actually had.
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


APPOINTMENT_GRACE_MINUTES = 5


def _appointment_figures(served: list[ServedStep], no_shows: int) -> dict:
    walk_in = [step.waited_seconds / 60 for step in served if step.walk_in]
    lateness = [step.late_after_slot_seconds for step in served
                if step.late_after_slot_seconds is not None]
    on_time = sum(late <= APPOINTMENT_GRACE_MINUTES * 60 for late in lateness)
    return {
        "walk_in_mean_wait": sum(walk_in) / len(walk_in) if walk_in else None,
        "appointments_within_5": on_time / len(lateness) if lateness else None,
        "appointments": len(lateness),
        "no_shows": no_shows,
    }


def day_figures(served: list[ServedStep], no_shows: int | None = None) -> dict:
    """One day's figures under one policy; waits in minutes, shares from 0 to 1.

    `no_shows` is given (the booked visitors who stayed away) when the
    scenario books visits, and adds the appointment figures of the module doc.
    """
    waits = sorted(step.waited_seconds / 60 for step in served)
    coverable = [step for step in served if step.coverable]
    figures = {
        "steps": len(served),
        "mean_wait": sum(waits) / len(waits) if waits else 0.0,
        "p90_wait": _percentile(waits, 0.9),
        "longest_wait": waits[-1] if waits else 0.0,
        "within_target": _share(sum(step.within_target for step in served), len(served)),
        "in_language": _share(sum(step.in_language for step in served), len(served)),
        "in_language_coverable": _share(sum(step.in_language for step in coverable),
                                        len(coverable)),
        "coverable_steps": len(coverable),
    }
    if no_shows is not None:
        figures |= _appointment_figures(served, no_shows)
    return figures


AVERAGED = ("mean_wait", "p90_wait", "longest_wait", "within_target", "in_language",
            "in_language_coverable")
# Figures a day may lack (None): averaged over the days that have them.
AVERAGED_WHERE_ANY = ("walk_in_mean_wait", "appointments_within_5")
TOTALLED = ("steps", "coverable_steps", "appointments", "no_shows")


def _mean_where_any(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(sum(present) / len(present), 4) if present else None


def average_days(per_day: list[dict]) -> dict:
    """The mean over days of each daily figure; step counts are totals."""
    figures = {name: round(sum(day[name] for day in per_day) / len(per_day), 4)
               for name in AVERAGED}
    figures["longest_wait_any_day"] = round(max(day["longest_wait"] for day in per_day), 4)
    for name in AVERAGED_WHERE_ANY:
        if name in per_day[0]:
            figures[name] = _mean_where_any([day[name] for day in per_day])
    for name in TOTALLED:
        if name in per_day[0]:
            figures[name] = sum(day[name] for day in per_day)
    figures["per_day"] = [{name: round(value, 4) if isinstance(value, float) else value
                           for name, value in day.items()} for day in per_day]
    return figures


ROWS = (
    ("steps", "Steps called (all days)", "{:d}"),
    ("mean_wait", "Mean wait (min)", "{:.1f}"),
    ("p90_wait", "90th percentile wait (min)", "{:.1f}"),
    ("longest_wait", "Longest wait (min, mean of days)", "{:.1f}"),
    ("longest_wait_any_day", "Longest wait (min, any day)", "{:.1f}"),
    ("within_target", "Served within target", "{:.1%}"),
    ("in_language", "Served in visitor's language", "{:.1%}"),
    ("in_language_coverable", "  ... of coverable steps", "{:.1%}"),
    ("coverable_steps", "Coverable steps (all days)", "{:d}"),
    ("walk_in_mean_wait", "Walk-in mean wait (min)", "{:.1f}"),
    ("appointments", "Appointments called (all days)", "{:d}"),
    ("appointments_within_5", "  ... within 5 min of slot", "{:.1%}"),
    ("no_shows", "No-shows (all days)", "{:d}"),
)


def format_figure(form: str, value) -> str:
    """A figure in its form, or a dash where no day had it."""
    return "-" if value is None else form.format(value)


def render_table(report: dict) -> str:
    """The report as a plain-text table, one column per policy."""
    names = list(report["policies"])
    label_width = max(len(label) for _, label, _ in ROWS)
    widths = [max(len(name), 8) for name in names]
    lines = [
        f"Scenario {report['scenario']}: {report['days']} day(s), means of daily figures",
        "",
        " " * label_width + "  " + "  ".join(name.rjust(width)
                                             for name, width in zip(names, widths, strict=True)),
    ]
    booked = "appointments" in report["policies"][names[0]]
    for key, label, form in ROWS:
        if key not in report["policies"][names[0]]:
            continue
        cells = [format_figure(form, report["policies"][name][key]).rjust(width)
                 for name, width in zip(names, widths, strict=True)]
        lines.append(label.ljust(label_width) + "  " + "  ".join(cells))
    lines += [
        "",
        "Coverable: some counter serving the step's service speaks the visitor's language.",
    ]
    if booked:
        lines += [f"Within {APPOINTMENT_GRACE_MINUTES} min of slot: a booked visit's first step "
                  "called at most that long",
                  "after the later of its slot and the visitor's arrival."]
    return "\n".join(lines)
