"""The queue: issuing tickets, desks calling them, the live state in Redis and its repair."""
