"""The queue engine: issuing tickets, calling them and moving visits along.

Plain Python over the two stores, callable without HTTP. SQL is the system
of record and is written first (a ticket is committed before anyone sees
it); Redis holds the live queues and is the arbiter of who calls which step.
Every state change appends an event in the same transaction.

The engine is composed of its parts, one module each: issuing.py, counters.py
(a desk's duty), calling.py, desk_actions.py (a chosen call, a transfer, undo) and
closing.py (the end of a service day), over what they share in base.py.
"""

from tessera.queue.calling import Calling
from tessera.queue.closing import Closing
from tessera.queue.counters import Counters
from tessera.queue.desk_actions import DeskActions
from tessera.queue.issuing import Issuing


class QueueEngine(Issuing, Counters, DeskActions, Calling, Closing):
    """Issues tickets and moves their steps through the states of DESIGN.md.

    `QueueEngine(database, live, clock=..., policy=..., max_services=..., publisher=...)`,
    as `EngineBase` takes them.
    """
