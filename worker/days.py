"""The RQ job that ends service days (`python -m tessera scheduler` enqueues it each minute)."""

from worker import job_stores


def close_ended_days() -> list[dict]:
    """Close, at every site, each service day whose closing time has passed."""
    with job_stores() as stores:
        return stores.engine.close_ended_days()
