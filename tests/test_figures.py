"""The managers' live figures count from the event log exactly."""

from tessera.status.figures import live_stats


def registration(engine, site) -> dict:
    figures = live_stats(engine, site.id)
    return next(s for s in figures["services"] if s["prefix"] == "A")


def test_a_step_served_and_then_referred_counts_as_served(engine, site, clock):
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    clock.advance(minutes=6)
    engine.call_next(desk)
    engine.start(desk)
    clock.advance(minutes=5)
    engine.refer(desk, site.services["legal_advice"])

    served = registration(engine, site)
    assert served["served_today"] == 1
    assert served["mean_wait_today_minutes"] == 6.0 and served["within_target_today"] == 1.0


def test_called_then_no_show_is_not_served(engine, site, clock):
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    engine.no_show(desk)
    assert registration(engine, site)["served_today"] == 0
