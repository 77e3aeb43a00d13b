"""What pages and the API show of the live queue: a ticket, a desk, the hall, live figures."""
