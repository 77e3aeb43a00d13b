"""The periodic jobs, in RQ's cron configuration form.

`python -m tessera scheduler` loads this module (registering into RQ's cron
registry is its one effect, which is why nothing else imports it) and enqueues
each job on time for the workers.
"""

from rq import cron

from worker.appointments import mark_missed_appointments, tend_waiting_lists
from worker.days import close_ended_days
from worker.desks import pause_absent_desks
from worker.live import repair_live_state
from worker.messages import purge_contacts, sweep_messages
from worker.reports import roll_up_reports

# Closing a day is idempotent and cheap when nothing is due, so looking every
# minute closes each site within a minute of its closing time.
DAY_CHECK_SECONDS = 60

cron.register(close_ended_days, "default", interval=DAY_CHECK_SECONDS)

# A desk whose page has gone is paused within DESK_ABSENT_SECONDS plus this; looking
# costs one SQL query and one Redis read per site.
DESK_CHECK_SECONDS = 15

cron.register(pause_absent_desks, "default", interval=DESK_CHECK_SECONDS)

# An appointment still booked when its check-in window closes is missed within a minute.
MISSED_CHECK_SECONDS = 60

cron.register(mark_missed_appointments, "default", interval=MISSED_CHECK_SECONDS)

# A waiting-list offer that lapsed goes to the next in line within a minute, and so does a
# place freed without a word to the waiting list (a hold that lapsed quietly).
WAITING_LIST_CHECK_SECONDS = 60

cron.register(tend_waiting_lists, "default", interval=WAITING_LIST_CHECK_SECONDS)

# Reminders fall due and failed messages are retried within this; a message a request
# wrote is usually sent at once by its own job, and by this sweep if Redis was away.
MESSAGE_SWEEP_SECONDS = 30

cron.register(sweep_messages, "default", interval=MESSAGE_SWEEP_SECONDS)

# Contact data is kept for days after a visit, so looking each hour is exact enough.
CONTACT_PURGE_SECONDS = 3600

cron.register(purge_contacts, "default", interval=CONTACT_PURGE_SECONDS)

# A live write that failed after its commit, or a Redis that restarted empty, is
# repaired within this even if no desk calls meanwhile; a repair with nothing to do
# is a few reads per site.
LIVE_REPAIR_SECONDS = 10

cron.register(repair_live_state, "default", interval=LIVE_REPAIR_SECONDS)


# A closed day reaches the roll-ups within this; until then a report replays its events,
# which gives the same figures, only slower.
REPORT_ROLL_UP_SECONDS = 600

cron.register(roll_up_reports, "default", interval=REPORT_ROLL_UP_SECONDS)
