"""Messages to visitors about their appointments: an outbox in SQL, sent by worker jobs.

Every appointment event is recorded in one place (booking `_record`), which
calls `queue_messages`: the change and the rows telling of it (one per
channel the visitor gave: email, sms) commit together or not at all. The
reminder sweep adds reminder rows when they fall due. A worker claims a row
with a conditional UPDATE, sends it, and marks it sent, so a message is sent
once however many workers run, and is retried with backoff until it is sent.
Contact data is purged a number of days after the appointment.

Modules: outbox (which rows, when), texts (what they say, in the visitor's
language), senders (SMTP, Twilio, files), sending (claim, send, retry,
enqueue after commit), purge (contact data).
"""
