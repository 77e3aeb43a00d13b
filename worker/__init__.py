"""Background jobs run by the RQ worker (`python -m tessera worker`): ticket printing.

Modules here have no side effects at import; each job connects to the stores
named by the environment (DATABASE_URL, REDIS_URL) when it runs.
"""
