"""The counter API: a desk's state, and calling, serving, referring, transferring, undoing,
opening and closing."""

from flask import Blueprint, jsonify
from flask_login import current_user

from tessera.api.openapi import request_body
from tessera.status.desk import counter_view, desk_step
from tessera.stores import stores
from tessera.web.auth import counter_for_staff, staff_required

blueprint = Blueprint("counters", __name__)


def _act(counter_id: int, method: str, *arguments):
    """Run one engine action at a counter the member of staff may use; answer its new state."""
    engine = stores().engine
    with engine.database.session() as session:
        language = counter_for_staff(session, counter_id).site.language
    getattr(engine, method)(counter_id, *arguments)
    return jsonify(counter_view(engine, counter_id, language))


@blueprint.get("/counters/<id:counter_id>")
@staff_required
def counter_state(counter_id):
    """The counter's duty, the ticket at the desk and the waiting list."""
    with stores().database.session() as session:
        counter = counter_for_staff(session, counter_id)
    return jsonify(counter_view(stores().engine, counter_id, counter.site.language))


@blueprint.post("/counters/<id:counter_id>/call-next")
@staff_required
def call_next(counter_id):
    """200 with the called ticket and step, or 204 when nobody waits for this desk."""
    engine = stores().engine
    with engine.database.session() as session:
        counter = counter_for_staff(session, counter_id)
    outcome = engine.call_next(counter_id, current_user.id)
    if outcome.step is None:
        headers = {"X-Held": str(outcome.held)}
        if outcome.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(outcome.retry_after)))
        return "", 204, headers
    return jsonify(desk_step(engine, outcome.step.id, counter.site.language))


def _step_action(name: str, method: str):
    """A view for one of the counter's actions on its current step."""

    @staff_required
    def view(counter_id):
        return _act(counter_id, method)

    view.__name__ = name.replace("-", "_")
    view.__doc__ = f"The counter's '{name}' action; answers with the counter's new state."
    return view


for _action, _method in {"start": "start", "finish": "finish", "undo": "undo",
                         "pause": "pause_counter", "resume": "resume_counter",
                         "close": "close_counter"}.items():
    blueprint.add_url_rule(f"/counters/<id:counter_id>/{_action}",
                           view_func=_step_action(_action, _method), methods=["POST"])


@blueprint.post("/counters/<id:counter_id>/call")
@staff_required
def call_step(counter_id):
    """Call one chosen waiting ticket out of turn: {step, reason}."""
    body = request_body()
    return _act(counter_id, "call_step", body["step"], body["reason"], current_user.id)


@blueprint.post("/counters/<id:counter_id>/recall")
@staff_required
def recall(counter_id):
    """Announce again; past the recall limit only with {confirm_no_show: true, remaining}."""
    body = request_body()
    return _act(counter_id, "recall", body.get("confirm_no_show", False),
                body.get("remaining", "cancel"))


@blueprint.post("/counters/<id:counter_id>/no-show")
@staff_required
def no_show(counter_id):
    """The called visitor did not come: {remaining: cancel | keep}, optional (cancel)."""
    body = request_body()
    return _act(counter_id, "no_show", body.get("remaining", "cancel"))


@blueprint.post("/counters/<id:counter_id>/transfer")
@staff_required
def transfer(counter_id):
    """Send the ticket at the desk to a named desk, keeping its place: {counter}."""
    body = request_body()
    return _act(counter_id, "transfer", body["counter"])


@blueprint.post("/counters/<id:counter_id>/refer")
@staff_required
def refer(counter_id):
    """Send the visitor on to another service: {service, note}; they keep their place."""
    body = request_body()
    return _act(counter_id, "refer", body["service"], body.get("note"))


@blueprint.post("/counters/<id:counter_id>/open")
@staff_required
def open_counter(counter_id):
    """Open the counter: {services: [ids], languages: [codes]}, both optional."""
    body = request_body()
    return _act(counter_id, "open_counter", current_user.id, body.get("services"),
                body.get("languages"))
