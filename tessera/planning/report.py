"""The figures of simulated days: per day, averaged over days, and as a table."""

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


def day_figures(served: list[ServedStep]) -> dict:
    """One day's figures under one policy; waits in minutes, shares from 0 to 1."""
    waits = sorted(step.waited_seconds / 60 for step in served)
    coverable = [step for step in served if step.coverable]
    return {
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


AVERAGED = ("mean_wait", "p90_wait", "longest_wait", "within_target", "in_language",
            "in_language_coverable")


def average_days(per_day: list[dict]) -> dict:
    """The mean over days of each daily figure; step counts are totals."""
    figures = {name: round(sum(day[name] for day in per_day) / len(per_day), 4)
               for name in AVERAGED}
    figures["longest_wait_any_day"] = round(max(day["longest_wait"] for day in per_day), 4)
    figures["steps"] = sum(day["steps"] for day in per_day)
    figures["coverable_steps"] = sum(day["coverable_steps"] for day in per_day)
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
)


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
    for key, label, form in ROWS:
        cells = [form.format(report["policies"][name][key]).rjust(width)
                 for name, width in zip(names, widths, strict=True)]
        lines.append(label.ljust(label_width) + "  " + "  ".join(cells))
    lines += [
        "",
        "Coverable: some counter serving the step's service speaks the visitor's language.",
    ]
    return "\n".join(lines)
