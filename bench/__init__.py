"""Benchmarks, run as modules: `python -m bench.<name> --help`.

Not tests: they measure, print figures side by side with a baseline taken in
the same run (these machines are small and noisy, so ratios matter more than
absolute numbers), and write nothing to the repository. See BENCHMARKS*.md.
"""
