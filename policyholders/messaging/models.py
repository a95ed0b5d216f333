"""What the database keeps of inbound messages and of consent withdrawn by the policyholders themselves."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, utcnow


class MessageChannel(enum.StrEnum):
    """The channels a policyholder can write in on, and withdraw consent of."""

    SMS = "sms"
    EMAIL = "email"


class MatchOutcome(enum.StrEnum):
    """How an inbound message was matched to the book."""

    #: an email answering one of ours (its ``In-Reply-To`` or ``References``): the policyholder we sent it to; else
    #: exactly one policyholder has the sender's phone (either of theirs) or email address
    MATCHED = "matched"
    #: nobody has it
    UNKNOWN = "unknown"
    #: several policyholders have it: the message is put on none of their timelines
    AMBIGUOUS = "ambiguous"


class WithdrawalMethod(enum.StrEnum):
    """How a policyholder withdrew a channel's consent."""

    #: the unsubscribe link of an email (``/unsubscribe/<token>``)
    LINK = "link"
    #: an opt-out keyword (STOP, TD, 退订…) replied by SMS or written in an email
    KEYWORD = "keyword"


class InboundMessage(Base):
    """One SMS or email a gateway delivered to the webhooks, matched or not.

    An email that answers one of ours (``reply_to_outbox_id``) is matched to the policyholder we sent it to. A
    matched message is on its policyholder's timeline (``interaction_id``) with a task for their agent; an unknown
    or ambiguous one has no policyholder and waits on the unmatched list until a manager assigns it to one or sets it
    aside (``handled_at``). ``external_id`` (the gateway's message id, when it sends one) makes a gateway's retry of
    the same message a no-op."""

    __tablename__ = "inbound_messages"
    #: the unmatched list: the messages without a policyholder, not handled yet
    __table_args__ = (Index("ix_inbound_messages_waiting", "policyholder_id", "handled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[MessageChannel]
    #: the sender as matched: a phone in E.164, or an email address in lower case
    sender: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    #: the email's ``In-Reply-To`` (the Message-ID of the email it answers), when given
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    #: our email it answers: the outbox row whose ``message_id`` its ``In-Reply-To`` (or ``References``) names
    reply_to_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    match: Mapped[MatchOutcome]
    #: how many policyholders the sender's phone or address matched (0, 1, or more), whatever it answers
    candidates: Mapped[int] = mapped_column(default=0)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id", ondelete="SET NULL"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    #: the message asked to stop messages on its channel (an opt-out keyword)
    opt_out: Mapped[bool] = mapped_column(default=False)
    handled_at: Mapped[datetime | None]
    handled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentWithdrawal(Base):
    """A policyholder withdrew their consent to one channel themselves: when, how, and from which message. The
    policyholder's page shows the latest of each channel while the consent stays withdrawn."""

    __tablename__ = "consent_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    channel: Mapped[MessageChannel]
    method: Mapped[WithdrawalMethod]
    withdrawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id", ondelete="SET NULL"))
