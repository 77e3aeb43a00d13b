"""The SQL store: one engine and session factory per process."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine for `url`, tuned for concurrent use.

    SQLite gets WAL and a busy timeout so that many threads (web requests,
    counters calling at once) wait for the write lock instead of failing.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            connection.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # A deferred transaction that reads and then writes fails at once with
        # "database is locked" when another writer got there first; taking the
        # write lock up front makes concurrent writers queue on busy_timeout.
        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True)


class Database:
    """Holds the engine and session factory; created once, bound per app."""

    def __init__(self, url: str | None = None):
        self.engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        if url:
            self.connect(url)

    def connect(self, url: str) -> None:
        """Bind to the database at `url`, replacing any earlier binding."""
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        assert self.sessions is not None, "Database is not connected"
        with self.sessions() as session, session.begin():
            yield session


def change_state(session: Session, row, expected, state) -> bool:
    """Set `row.state` to `state` only if the database still holds `expected`; whether it did.

    A conditional UPDATE rather than read-then-write, so that of two requests changing
    the same row at once exactly one wins; the row is re-read either way.
    """
    model = type(row)
    changed = session.execute(
        update(model).where(model.id == row.id, model.state == expected)
        .values(state=state).execution_options(synchronize_session=False)).rowcount
    session.refresh(row)
    return changed == 1
