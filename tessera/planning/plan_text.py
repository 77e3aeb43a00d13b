"""The staffing plan as plain text, for `python -m tessera plan`."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _percent(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def render_plan(plan: dict) -> str:
    """Rows per weekday, service and hour, then each weekday's desks, languages and figures."""
    lines = [f"Staffing plan: {plan['share']:.0%} of visitors within their target wait", ""]
    header = (f"{'service':20} {'weekday':9} {'hour':>5} {'arrivals/h':>10} {'handling':>8} "
              f"{'desks':>5} {'erlang':>6} {'within':>6}")
    lines += [header, "-" * len(header)]
    for row in plan["rows"]:
        extra = f" (+{row['extra_desks']} extra)" if row.get("extra_desks") else ""
        lines.append(f"{row['service'][:20]:20} {WEEKDAYS[row['weekday']]:9} "
                     f"{row['hour']:>3}:00 {row['arrivals_per_hour']:>10.1f} "
                     f"{row['mean_handling_minutes']:>8.1f} {row['desks_needed']:>5} "
                     f"{row.get('erlang_desks', 0):>6} "
                     f"{_percent(row['expected_within_target']):>6}{extra}")
    for day in plan["days"]:
        figures = day["figures"]
        lines += ["", f"{WEEKDAYS[day['weekday']]}: simulated {day['simulated_days']} day(s), "
                      f"{'meets' if day['met'] else 'misses'} the share after {day['rounds']} "
                      f"round(s) of additions; mean wait {figures['mean_wait_minutes']} min, "
                      f"within target {_percent(figures['within_target'])}, language match "
                      f"{_percent(figures['language_match'])}"]
        if day["extra_desks"]:
            lines.append("  Desks the site does not have (copies of the named desk): "
                         + ", ".join(day["extra_desks"]))
        for missing in day["missing"]:
            lines.append(f"  Still missing: {missing['service']} at {missing['hour']:02d}:00")
        for hour in day["hours"]:
            desks = ", ".join(desk["counter"] for desk in hour["desks"]) or "none"
            cover = ", ".join(f"{cover['language']}" + ("" if cover["covered"] else " (nobody)")
                              for cover in hour["languages"])
            lines.append(f"  {hour['hour']:02d}:00  {len(hour['desks'])} desks: {desks}")
            lines.append(f"         languages to cover: {cover}")
    lines += ["", "desks: on duty for the service (Erlang C, then the simulator's additions); "
                  "erlang: Erlang C alone;",
              "within: simulated share of the hour's steps called within target."]
    return "\n".join(lines)
