"""Benchmarks, run as modules: `python -m bench.<name> --help`.

Not tests: they measure, print figures side by side with a baseline taken in
the same run (these machines are small and noisy, so ratios matter more than
absolute numbers), and write nothing to the repository. See BENCHMARKS*.md.
"""

import json
import sys
from collections.abc import Callable


def print_report(measure: Callable[[], object], as_json: bool,
                 render_table: Callable[[object], str]) -> int:
    """Run a benchmark's measurement and print it as JSON or as its table; the exit status.

    A scenario file that does not validate (ValueError) is said plainly, status 2.
    """
    try:
        report = measure()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if as_json else render_table(report))
    return 0


def markdown_table(leading: list[tuple[str, str]], columns, rows) -> list[str]:
    """A Markdown table: `leading` (title, alignment) columns, then the figure `columns`
    (key, title, format) of each row, given as (leading cells, figures); a missing figure
    (None) is a dash."""
    lines = ["| " + " | ".join([title for title, _ in leading]
                               + [title for _, title, _ in columns]) + " |",
             "|" + "|".join([align for _, align in leading] + ["---:"] * len(columns)) + "|"]
    for cells, figures in rows:
        lines.append("| " + " | ".join([*cells, *(
            "-" if figures[key] is None else form.format(figures[key])
            for key, _, form in columns)]) + " |")
    return lines
