"""Models owned by the application shell: users, API tokens, the audit log and the outbox."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, TimestampMixin, utcnow
from insurecrm.token_cache import install_triggers


class Role(enum.StrEnum):
    """The roles of SPEC §2; what each may see is decided in the domains' ``permissions.py``."""

    ADMIN = "admin"
    BRANCH_MANAGER = "branch_manager"
    AGENT = "agent"
    BANCASSURANCE_SPECIALIST = "bancassurance_specialist"
    BANK_REFERRER = "bank_referrer"
    ACTUARY = "actuary"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(TimestampMixin, Base):
    """A login. Agents and specialists link to their :class:`~agents.models.Agent` record,
    branch managers to the organisation unit they lead, referrers to their referrer record."""

    __tablename__ = "users"
    __audited__ = True
    __audit_secret__ = frozenset({"password_hash", "session_token"})
    #: a login is not a change
    __audit_ignore__ = frozenset({"last_login_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(default=True)
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("referrers.id"), index=True)
    last_login_at: Mapped[datetime | None]
    #: the secret every web session of this user carries (Flask-Login's "alternative id"): replacing it
    #: (logout, a new password, deactivation) ends all of them, on every host; see insurecrm.auth
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)

    agent = relationship("Agent", foreign_keys=[agent_id])
    org_unit = relationship("OrgUnit", foreign_keys=[org_unit_id])
    referrer = relationship("Referrer", foreign_keys=[referrer_id])

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # the session cookie carries this secret, never the id: the database decides whether it still holds
        return self.session_token

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class ApiToken(Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


# PostgreSQL announces each change of users and tokens to the API token caches of every process (insurecrm.token_cache)
for _table in (User.__table__, ApiToken.__table__):
    event.listen(_table, "after_create", install_triggers)


class AuditLog(Base):
    """Who changed what, when, from which value to which (field-level)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: who acted, as text: a username, or ``system:<job>`` for the CLI and the scheduler
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(16))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None]
    #: ``{"field": [before, after]}``; values are JSON-safe strings
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    TASK = "task"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    #: never sent, and never will be: the work was owed on a day it could no longer be done (the reason is in
    #: ``last_error``); the row keeps its idempotency key so nothing queues it later
    SKIPPED = "skipped"


class Outbox(Base):
    """Every email, SMS or agent task the system produced, keyed for idempotency."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. ``renewal_reminder:policy=42:offset=30:date=2026-11-22``; never two rows with one key
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    channel: Mapped[OutboxChannel]
    recipient: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="en")
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    #: an email's ``Message-ID``, made when it is first claimed and kept: every copy sent carries it, and a reply
    #: names it in ``In-Reply-To`` (:mod:`policyholders.messaging.inbound`); none for an SMS or a task
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)


class JobRunStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: an owed date older than the catch-up limit, not run by the scheduler (``error`` says why); run by hand
    SKIPPED = "skipped"


class JobRun(Base):
    """One run of a daily job for one logical date: the claim that makes it happen once.

    The claim (``attempt_key=""``) is inserted when the job's work is done, under the jobs lock
    (:mod:`insurecrm.jobs`); the unique constraint makes a second claim of the same (job, date) fail. A failure
    is recorded with status ``failed`` and a key of its own and does not count as a claim: the date is tried
    again. A date the scheduler did not run because it was too old is recorded once with status ``skipped``
    (``attempt_key="skipped"``) and the reason in ``error``; it is not a claim either.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "logical_date", "attempt_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    logical_date: Mapped[date] = mapped_column(index=True)
    #: "" for the one successful run of (job, date); "skipped" for its skip record; a unique value for each failure
    attempt_key: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[JobRunStatus]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: what the run did: ``{"cases_opened": 12, "reminders_queued": 30, ...}``
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    host: Mapped[str] = mapped_column(String(120), default="")
    error: Mapped[str | None] = mapped_column(Text)


class RateLimitCounter(Base):
    """A fixed-window counter of the rate limits (login attempts per client), shared by every process and host
    that uses the database; see :mod:`insurecrm.ratelimit`."""

    __tablename__ = "rate_limit_counters"

    #: the limit and the client, as the ``limits`` library names them (e.g. ``LIMITER/10.0.0.7/…/10/1/minute``)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int]
    #: when the window ends; an expired row counts as absent and is replaced by the next attempt
    expires_at: Mapped[datetime] = mapped_column(index=True)
