"""Looking ahead: the wait forecast, and the simulator that replays days of a centre."""
