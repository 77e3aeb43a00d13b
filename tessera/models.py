"""SQL models: the system of record for sites, services, tickets and events.

Vocabulary (DESIGN.md): a *site* hosts *organisations* that offer *services*;
*counters* (desks) serve some services, staffed by *staff*. A *ticket* is one
visit; its journey is a list of *steps*, one per service. Every state change
appends an *event*. Times are naive UTC in the database (SQLite keeps no zone)
and are converted to the site's zone only for display and the service day.
"""

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The largest id a row can have: ids are INTEGER columns, 32 bits on PostgreSQL. A larger
# number names no row, and the web layer refuses it before it reaches a query (which
# PostgreSQL, or SQLite past 2**63, would fail with an error instead of "not found").
MAX_ID = 2**31 - 1
# The longest hall message a manager may set, in characters.
HALL_MESSAGE_MAX = 200


class Base(DeclarativeBase):
    """Declarative base; the metadata Alembic migrates."""

    # Named constraints, so later migrations can alter them (SQLite batch mode).
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


def _enum(kind: type[enum.Enum], name: str, length: int = 16) -> Enum:
    # Store the values as plain strings so both SQLite and PostgreSQL read
    # them the same way and migrations need no native enum types.
    return Enum(kind, name=name, native_enum=False, length=length,
                values_callable=lambda members: [member.value for member in members])


class Role(enum.StrEnum):
    """What a member of staff may do (tessera.staff.permissions decides it)."""

    STAFF = "staff"
    # Administers the staff and services of their own organisations, nothing else.
    ORGANISATION_MANAGER = "organisation_manager"
    MANAGER = "manager"
    ADMIN = "admin"


class CounterStatus(enum.StrEnum):
    """Whether a counter takes tickets now."""

    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class StepState(enum.StrEnum):
    """Where one service of a visit stands.

    `planned` is a later service of a multi-service journey that has not
    started queuing yet; it becomes `waiting` when the step before it ends.
    """

    PLANNED = "planned"
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    REFERRED = "referred"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the service day closed before the step was served


ACTIVE_STEP_STATES = (StepState.WAITING, StepState.CALLED, StepState.SERVING)
FINAL_STEP_STATES = (StepState.DONE, StepState.NO_SHOW, StepState.REFERRED, StepState.CANCELLED,
                     StepState.EXPIRED)


class Site(Base):
    """One One-Stop-Shop location."""

    __tablename__ = "site"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    languages: Mapped[list] = mapped_column(JSON)
    unchecked_translations: Mapped[list] = mapped_column(JSON, default=list)
    # Local times per weekday (tessera/sites/hours.py), holidays, and how long before
    # each closing walk-in issuing stops.
    opening_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    closed_dates: Mapped[list] = mapped_column(JSON, default=list)
    walk_in_stop_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # The last service day that has been closed (every step ended, every desk closed).
    closed_through: Mapped[dt.date | None] = mapped_column(Date)
    recall_limit: Mapped[int] = mapped_column(Integer, default=2)
    # A line a manager sets for the hall's displays (a closure, a moved desk), shown as
    # typed in every language; none shows nothing (tessera/sites/hall_message.py).
    hall_message: Mapped[str | None] = mapped_column(String(HALL_MESSAGE_MAX))

    organisations: Mapped[list["Organisation"]] = relationship(back_populates="site")
    services: Mapped[list["Service"]] = relationship(back_populates="site")
    counters: Mapped[list["Counter"]] = relationship(back_populates="site")


class SitePart:
    """A part of one site that the site file names by a key, unique within the site."""

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    key: Mapped[str] = mapped_column(String(64))


class Organisation(SitePart, Base):
    """A partner agency working at a site."""

    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    name: Mapped[dict] = mapped_column(JSON)

    site: Mapped[Site] = relationship(back_populates="organisations")


class Category(SitePart, Base):
    """A group of services on the kiosk, with an icon; may have a parent."""

    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    icon: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    name: Mapped[dict] = mapped_column(JSON)
    # The languages of `name` that no native speaker has checked yet (site file: `unchecked`).
    unchecked_languages: Mapped[list] = mapped_column(JSON, default=list)


counter_service = Table(
    "counter_service",
    Base.metadata,
    Column("counter_id", ForeignKey("counter.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
)

staff_organisation = Table(
    "staff_organisation",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE"),
           primary_key=True),
)


class Service(SitePart, Base):
    """Something a visitor can ask for, offered by one organisation."""

    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("site_id", "key"), UniqueConstraint("site_id", "prefix"))

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    target_wait_minutes: Mapped[int] = mapped_column(Integer)
    mean_handling_minutes: Mapped[float] = mapped_column()
    walk_in: Mapped[bool] = mapped_column(Boolean, default=True)
    by_appointment: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Retiring (tessera/sites/retirement.py): no longer issued, booked or referred to, but
    # still called and served until none of its steps is open; then it becomes inactive.
    retiring: Mapped[bool] = mapped_column(Boolean, default=False)
    # The site file's `appointments:` settings, normalised (tessera/appointments/availability.py);
    # None: the service takes no appointments.
    appointment_settings: Mapped[dict | None] = mapped_column(JSON)

    site: Mapped[Site] = relationship(back_populates="services")
    organisation: Mapped[Organisation] = relationship()
    category: Mapped[Category | None] = relationship()
    texts: Mapped[list["ServiceText"]] = relationship(
        back_populates="service", cascade="all, delete-orphan"
    )

    @hybrid_property
    def offered(self) -> bool:
        """Whether visitors may take, book or be referred to it now (active, not retiring)."""
        return self.active and not self.retiring

    @offered.inplace.expression
    @classmethod
    def _offered_expression(cls):
        return and_(cls.active, ~cls.retiring)

    def text(self, language: str) -> "ServiceText":
        """The service's texts in `language`, else in the site language."""
        by_language = {text.language: text for text in self.texts}
        return by_language.get(language) or by_language[self.site.language]


class ServiceText(Base):
    """A service's name, plain-language description and 'what to bring', in one language."""

    __tablename__ = "service_text"
    __table_args__ = (UniqueConstraint("service_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    what_to_bring: Mapped[str] = mapped_column(Text, default="")
    # Whether a native speaker has checked these texts (site file: `checked`).
    checked: Mapped[bool] = mapped_column(Boolean, default=True)

    service: Mapped[Service] = relationship(back_populates="texts")


class Staff(UserMixin, Base):
    """A person who works at counters or manages the site."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "staff_role", length=24))
    password_hash: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list] = mapped_column(JSON, default=list)
    # The language of the staff pages, chosen by the member of staff (None: the site's).
    page_language: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    organisations: Mapped[list[Organisation]] = relationship(secondary=staff_organisation)

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses inactive accounts."""
        return self.active


class StaffToken(Base):
    """A bearer token for the staff API (scripts, a desk's own device); only its hash is kept."""

    __tablename__ = "staff_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A token stops working at this time; None only for tokens issued before expiry existed.
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    staff: Mapped[Staff] = relationship()


class StaffSession(Base):
    """A signed-in browser session, kept in SQL so that it can be ended from the server.

    The session cookie carries a random key; only its hash is kept. Logging out ends
    the one session; a password change or a deactivation ends all of a person's.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    staff: Mapped[Staff] = relationship()


class Counter(SitePart, Base):
    """A desk where staff serve; its duty columns say who serves what today."""

    __tablename__ = "counter"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    name: Mapped[dict] = mapped_column(JSON)
    zone: Mapped[str | None] = mapped_column(String(64))
    # Languages the staff usually at this desk speak: the default for a duty.
    languages: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    status: Mapped[CounterStatus] = mapped_column(
        _enum(CounterStatus, "counter_status"), default=CounterStatus.CLOSED
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    duty_service_ids: Mapped[list] = mapped_column(JSON, default=list)
    duty_languages: Mapped[list] = mapped_column(JSON, default=list)

    site: Mapped[Site] = relationship(back_populates="counters")
    services: Mapped[list[Service]] = relationship(secondary=counter_service)
    staff: Mapped[Staff | None] = relationship()


class Ticket(Base):
    """One visit: a number, a language, needs, and a journey of steps."""

    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("site_id", "service_day", "prefix", "sequence"),
        UniqueConstraint("site_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    number: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer)
    service_day: Mapped[dt.date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(16))
    needs: Mapped[list] = mapped_column(JSON, default=list)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # The visit's place in every queue it joins: referral keeps it.
    arrived_at: Mapped[dt.datetime] = mapped_column(DateTime)

    site: Mapped[Site] = relationship()
    steps: Mapped[list["Step"]] = relationship(
        back_populates="ticket", order_by="Step.position", cascade="all, delete-orphan"
    )

    @property
    def current_step(self) -> "Step | None":
        """The step queuing or being served now, if the visit is still going on."""
        return next((step for step in self.steps if step.state in ACTIVE_STEP_STATES), None)

    @property
    def state(self) -> str:
        """The visit's state, derived from its steps."""
        current = self.current_step
        if current is not None:
            return current.state.value
        states = {step.state for step in self.steps}
        for ending in (StepState.EXPIRED, StepState.NO_SHOW, StepState.CANCELLED):
            if ending in states:
                return ending.value
        return StepState.DONE.value


# The states in which a step occupies its desk (for the partial unique index below).
ACTIVE_AT_DESK = "state IN ('called', 'serving')"


class Step(Base):
    """One service within a ticket's journey."""

    __tablename__ = "step"
    __table_args__ = (
        Index("ix_step_service_state", "service_id", "state"),
        Index("ix_step_counter_state", "counter_id", "state"),
        # Invariant 2 in SQL itself: a desk holds at most one called or serving step.
        Index("uq_step_active_counter", "counter_id", unique=True,
              sqlite_where=text(ACTIVE_AT_DESK), postgresql_where=text(ACTIVE_AT_DESK)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[StepState] = mapped_column(_enum(StepState, "step_state"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    queued_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    called_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    referred_from_id: Mapped[int | None] = mapped_column(ForeignKey("step.id"))
    # A waiting step transferred to a named desk: only that desk may call it.
    reserved_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    # A checked-in appointment's slot start: the routing's appointment boost comes from here.
    appointment_due: Mapped[dt.datetime | None] = mapped_column(DateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="steps")
    service: Mapped[Service] = relationship()
    counter: Mapped[Counter | None] = relationship(foreign_keys=[counter_id])


class DeviceKind(enum.StrEnum):
    """What a registered device is."""

    KIOSK = "kiosk"
    DISPLAY = "display"


class Device(SitePart, Base):
    """A registered kiosk or display; a kiosk's settings name its ticket printer."""

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    kind: Mapped[DeviceKind] = mapped_column(_enum(DeviceKind, "device_kind"))
    # For a kiosk: {"printer": {"type": "file" | "network" | ..., ...}}; see SCHEMA.md.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Pairing: a one-time code shown once (its hash and expiry here) is exchanged for the
    # device's secret, of which only the hash is kept; a device without one is not trusted.
    secret_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    paired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64))
    pairing_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Event(Base):
    """An append-only record of one state change; every KPI is computed from these."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_site_at", "site_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("step.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class ReportStep(Base):
    """One step of a closed service day as the reports count it: a daily roll-up.

    Derived from the event log and rebuilt from it at will (tessera.reports.rollups);
    it holds what the figures need and no more, so that a year reads as fast as a week.
    Ticket and step ids are plain numbers: the roll-up never stands in a row's way.
    """

    __tablename__ = "report_step"
    __table_args__ = (Index("ix_report_step_site_day", "site_id", "service_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    service_day: Mapped[dt.date] = mapped_column(Date)
    ticket_id: Mapped[int] = mapped_column(Integer)
    # The step's place in its visit's journey, in the order the events first name it.
    ordinal: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    arrival_hour: Mapped[int] = mapped_column(Integer)
    arrival_weekday: Mapped[int] = mapped_column(Integer)
    queued: Mapped[bool] = mapped_column(Boolean)
    waited_minutes: Mapped[float | None] = mapped_column(Float)
    handling_minutes: Mapped[float | None] = mapped_column(Float)
    # finished, referred, no_show, left, cancelled, expired; None while unended.
    ending: Mapped[str | None] = mapped_column(String(16))
    in_language: Mapped[bool] = mapped_column(Boolean)


class ReportDay(Base):
    """A service day whose steps are rolled up in report_step, and when."""

    __tablename__ = "report_day"

    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), primary_key=True)
    service_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ReportWatermark(Base):
    """The last event a site's roll-up has looked at: later step events of a rolled-up
    day (a step swept up late) make that day roll up again."""

    __tablename__ = "report_watermark"

    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)


class ReportAppointment(Base):
    """One booked appointment of a closed service day as the reports count it: a daily
    roll-up of its events (tessera.reports.appointments.AppointmentFact), rebuilt at will."""

    __tablename__ = "report_appointment"
    __table_args__ = (Index("ix_report_appointment_site_day", "site_id", "service_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    # The local date of its latest slot.
    service_day: Mapped[dt.date] = mapped_column(Date)
    appointment_id: Mapped[int] = mapped_column(Integer)
    slot_hour: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    # checked_in, missed, cancelled; None while still booked.
    ending: Mapped[str | None] = mapped_column(String(16))
    punctuality_minutes: Mapped[float | None] = mapped_column(Float)


class AppointmentState(enum.StrEnum):
    """Where a booked slot stands: held while the visitor finishes, then booked.

    A hold that is not confirmed in time ends as `expired`.
    """

    HELD = "held"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    MISSED = "missed"
    EXPIRED = "expired"


# The states in which an appointment takes its seat in a slot and its code at the site.
ACTIVE_APPOINTMENT = "state IN ('held', 'booked', 'checked_in')"


class Appointment(Base):
    """A place in one slot of a service; `seat` numbers the slot's places from 0.

    The partial unique index on (service, start, seat) is what makes booking the
    last place atomic: two requests for the same seat cannot both commit.
    """

    __tablename__ = "appointment"
    __table_args__ = (
        UniqueConstraint("site_id", "idempotency_key"),
        Index("ix_appointment_service_start", "service_id", "start"),
        Index("uq_appointment_seat", "service_id", "start", "seat", unique=True,
              sqlite_where=text(ACTIVE_APPOINTMENT), postgresql_where=text(ACTIVE_APPOINTMENT)),
        Index("uq_appointment_code", "site_id", "code", unique=True,
              sqlite_where=text(ACTIVE_APPOINTMENT), postgresql_where=text(ACTIVE_APPOINTMENT)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    seat: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    state: Mapped[AppointmentState] = mapped_column(_enum(AppointmentState, "appointment_state"))
    code: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # The ticket check-in gave, so that checking in again gives the same one.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))

    site: Mapped[Site] = relationship()
    service: Mapped[Service] = relationship()


class Message(Base):
    """One message to a visitor about an appointment: an outbox row, sent by a worker job.

    The unique (appointment, kind, channel) row is what keeps a message from being
    sent twice: it is written in the same transaction as the change it tells of (or
    by the reminder sweep), and a worker claims it before sending.
    """

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("appointment_id", "kind", "channel"),
                      Index("ix_message_pending", "sent_at", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))
    # What it tells: confirmation, reminder:24h, moved:<event>, cancellation, offer, ...
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A worker's claim on the row while it sends; a stale claim may be taken over.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))

    appointment: Mapped[Appointment] = relationship()


class WaitingListEntry(Base):
    """A visitor waiting for a place in a service between two days (site-local dates).

    A cancellation offers the freed slot to the first entry in line that fits: a
    hold on it, kept for a limited time, that the visitor confirms from the message.
    """

    __tablename__ = "waiting_list_entry"
    __table_args__ = (Index("ix_waiting_list_entry_service_state", "service_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    language: Mapped[str] = mapped_column(String(16))
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # waiting, offered, booked, left (the visitor's choice), ended (the range passed)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # The hold offered to this entry, while it is offered and after.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))

    site: Mapped[Site] = relationship()
    service: Mapped[Service] = relationship()
    appointment: Mapped[Appointment | None] = relationship()


class Feedback(Base):
    """A visitor's score (1-5) and reason chips for one finished ticket; nothing personal.

    One row per ticket: the unique ticket_id is what makes feedback once per visit, even
    when two requests race (the second insert fails instead of a read-then-write gap).
    """

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
                      Index("ix_feedback_site_given_at", "site_id", "given_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    # Reason keys of tessera.reports.feedback.REASONS, never free text.
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    given_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Where it was given: "ticket" (the mobile ticket page) or "kiosk" (a feedback terminal).
    source: Mapped[str] = mapped_column(String(16))
