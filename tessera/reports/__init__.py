"""Reports for monitoring and evaluation: every figure is computed from the event log."""
