"""Inbound SMS and email: matched to one policyholder, put on their timeline, and answered by their agent.

**A reply to one of our emails.** Every email the outbox sends carries a ``Message-ID`` kept on its row
(``outbox.message_id``, :func:`insurecrm.outbox.gateways.new_message_id`: random, so it cannot be guessed), and a
mail program answering it names that id in ``In-Reply-To``, and in ``References`` with the rest of the thread. An
inbound email naming one of ours — ``In-Reply-To`` first, then ``References`` from the nearest back, for a reply to
a reply — answers that email (``reply_to_outbox_id``), and is matched to the policyholder we sent it to, whatever
address it comes from: a spouse writing from the household's other address, the policyholder from a new one. The
thread wins over the address even when the address is exactly another policyholder's: whoever writes, an answer to
what we wrote to X is about X, and X's agent is the one who can answer it (a stranger cannot name the id: it went
only to X's mailbox). An email naming none of ours (a new email, a reply to an agent's own mail, one sent before
Message-IDs were kept) is matched by its address, as an SMS is by its number.

**Matching by the sender.** An SMS is matched by the sender's number, normalised to E.164
(:func:`policyholders.identity.normalise_phone`), against both phones of every policyholder (indexed); an email by
its address, in any case (``lower(email)``: a scan of the policyholders, a few milliseconds per email at 100,000 of
them — inbound email is rare; SQLite cannot reflect an expression index, so the schema check could not keep one).
Exactly one policyholder: the message is theirs. None, or several (a household sharing a number): it is put on
nobody's timeline — guessing would show one person's words to another's agent — and waits on the unmatched list
(``/inbound/unmatched``) for a manager, who assigns it to the right policyholder or sets it aside.

**What a matched message does.** It becomes an inbound interaction of its channel on the timeline, and the owner
agent gets a task (reason ``inbound_message``, due today; the unit's pool when the owner is not active) to read and
answer it — one open task per policyholder, however many messages arrive before it is done.

**Opt-out.** An SMS whose text is an opt-out keyword (``INSURECRM_OPT_OUT_KEYWORDS``: STOP, TD, T, 退订,
UNSUBSCRIBE), or an email whose subject or first line is one, withdraws that channel's consent at once
(:func:`policyholders.messaging.consent.withdraw`) — of every policyholder the sender matched, ambiguous or not, and
of the policyholder whose email it answers: the person at that number or address asked for no more messages, and
stopping is the safe side. No task is made.

**A reply to a renewal reminder** (or any email of ours about a policy) goes on the timeline and in the task as any
matched message, linked to that policy (``policy_id`` of the contact and of a new task).

**Campaign responses (a hook).** :func:`on_response` registers a function ``(message, holder)`` called for each
message matched to a policyholder that is not an opt-out: the campaigns module registers there the marking of the
response (``CampaignMember.responded_at``) of the campaign message it answers (``reply_to_outbox_id``), else of the
last campaign message sent to that policyholder (:mod:`policyholders.campaigns.responses`).

**Idempotent.** A gateway that retries sends the same ``message_id``: the second delivery returns the first message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import Select, func, or_, select

from agents.models import Activity, ActivityKind, ActivityStatus, Agent, AgentStatus, Priority, TaskReason
from agents.task_services import planned_on
from insurecrm import clock
from insurecrm.actor import acting_as
from insurecrm.db import db, utcnow
from insurecrm.models import Outbox
from policyholders.identity import normalise_phone
from policyholders.messaging import consent
from policyholders.messaging.models import InboundMessage, MatchOutcome, MessageChannel, WithdrawalMethod
from policyholders.models import Direction, Interaction, InteractionChannel, Policyholder

#: at most this many candidates are looked at: two already make a message ambiguous
CANDIDATES_LIMIT = 20
#: at most this many Message-IDs an email names are looked up, the nearest: a thread longer than that has replies
#: enough to ours to name one of them
THREAD_LIMIT = 20
_response_listeners: list[Callable[[InboundMessage, Policyholder], None]] = []
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")
#: a Message-ID in its angle brackets, or bare (some gateways drop them)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>|[^<>\s,]+@[^<>\s,]+")


def on_response(listener: Callable[[InboundMessage, Policyholder], None]) -> Callable:
    """Register ``listener(message, holder)``, called for each inbound message matched to a policyholder that is not
    an opt-out, in the same transaction (the campaigns' response marking). A decorator."""
    if listener not in _response_listeners:
        _response_listeners.append(listener)
    return listener


def sender_phone(raw: str) -> str | None:
    """The E.164 form of an SMS sender, or ``None`` when it is not a valid number (a short code, a name)."""
    try:
        return normalise_phone(raw)
    except ValidationError:
        return None


def sender_address(raw: str) -> str | None:
    """The address of an email's ``From`` (``"Li Na <Li.Na@Example.com>"`` → ``li.na@example.com``), or ``None``."""
    address = parseaddr(raw)[1].strip().lower()
    return address if "@" in address else None


def candidates(channel: MessageChannel, sender: str | None) -> list[Policyholder]:
    """The policyholders the sender may be: by either phone, or by the email address in any case. One query."""
    if not sender:
        return []
    condition = (or_(Policyholder.phone == sender, Policyholder.phone_alt == sender) if channel == MessageChannel.SMS
                 else func.lower(Policyholder.email) == sender)
    return list(db.session.scalars(select(Policyholder).where(condition).order_by(Policyholder.id)
                                   .limit(CANDIDATES_LIMIT)))


def named_message_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """The Message-IDs an email names as those it answers, nearest first: its ``In-Reply-To``, then its
    ``References`` from the last back; each ``<…>`` in lower case (ours are), with the angle brackets a gateway may
    have dropped. At most :data:`THREAD_LIMIT`."""
    named: list[str] = []
    for header, nearest_last in ((in_reply_to, False), (references, True)):
        found = [f"<{each.strip('<>')}>".lower() for each in _MESSAGE_ID.findall(header or "")]
        named += reversed(found) if nearest_last else found
    return list(dict.fromkeys(named))[:THREAD_LIMIT]


def answered_email(in_reply_to: str | None, references: str | None) -> Outbox | None:
    """Our email that an email answers: the outbox row of the nearest Message-ID it names that is one of ours
    (:func:`named_message_ids`), or ``None``. One query."""
    named = named_message_ids(in_reply_to, references)
    if not named:
        return None
    ours = {row.message_id: row for row in db.session.scalars(select(Outbox).where(Outbox.message_id.in_(named)))}
    return next((ours[each] for each in named if each in ours), None)


def is_opt_out(text: str | None) -> bool:
    """Whether ``text`` (an SMS, or an email's subject or first line) is one of the opt-out keywords, whatever its
    case, spaces and punctuation around it."""
    word = _EDGES.sub("", (text or "").strip()).upper()
    return bool(word) and word in current_app.config["OPT_OUT_KEYWORDS"]


def receive(channel: MessageChannel, data: dict) -> tuple[InboundMessage, bool]:
    """Take in one inbound message (``data``: a loaded webhook body): match it, and put it on the timeline with a
    task, withdraw consent, or leave it unmatched (see the module). Returns the message and whether it is new
    (``False``: the gateway sent this ``message_id`` before; nothing more is done). Flushes; the caller commits."""
    external_id = data.get("message_id")
    if external_id and (known := db.session.scalar(select(InboundMessage).where(
            InboundMessage.external_id == external_id))) is not None:
        return known, False
    email = channel == MessageChannel.EMAIL
    sender = sender_address(data["sender"]) if email else sender_phone(data["sender"])
    answered = answered_email(data.get("in_reply_to"), data.get("references")) if email else None
    addressee = db.session.get(Policyholder, answered.policyholder_id) \
        if answered is not None and answered.policyholder_id is not None else None
    found = candidates(channel, sender)
    holder = addressee or (found[0] if len(found) == 1 else None)
    opt_out = is_opt_out(data.get("subject")) or is_opt_out((data["text"].strip().splitlines() or [""])[0]) \
        if email else is_opt_out(data["text"])
    match = MatchOutcome.MATCHED if holder else MatchOutcome.AMBIGUOUS if found else MatchOutcome.UNKNOWN
    message = InboundMessage(
        channel=channel, sender=(sender or data["sender"].strip())[:255], subject=data.get("subject"),
        text=data["text"], in_reply_to=data.get("in_reply_to"), external_id=external_id,
        reply_to_outbox_id=answered.id if answered is not None else None,
        received_at=data.get("received_at") or utcnow(), match=match, candidates=len(found),
        policyholder_id=holder.id if holder else None, opt_out=opt_out)
    db.session.add(message)
    db.session.flush()
    with acting_as("inbound:email") if email else acting_as("inbound:sms"):
        if opt_out:
            stopping = {each.id: each for each in [*([addressee] if addressee else []), *found]}
            for each in stopping.values():
                consent.withdraw(each, channel, WithdrawalMethod.KEYWORD, inbound=message, at=message.received_at)
            if stopping:
                message.handled_at = utcnow()  # nothing for a person to do: the consent is withdrawn
        elif holder is not None:
            take_in(message, holder)
    db.session.flush()
    return message, True


def take_in(message: InboundMessage, holder: Policyholder) -> Interaction:
    """Put ``message`` on ``holder``'s timeline (an inbound interaction), give their agent a task to answer it unless
    one is open already, and tell the response listeners. A reply to our email about a policy (a renewal reminder)
    is linked to that policy. Flushes."""
    summary = f"{message.subject}\n\n{message.text}" if message.subject else message.text
    policy_id = _policy_answered(message, holder)
    interaction = Interaction(policyholder_id=holder.id, channel=InteractionChannel(message.channel.value),
                              direction=Direction.INBOUND, occurred_at=message.received_at,
                              summary=summary.strip() or "—", policy_id=policy_id)
    db.session.add(interaction)
    db.session.flush()
    message.policyholder_id, message.interaction_id = holder.id, interaction.id
    _answer_task(message, holder, policy_id)
    for listener in _response_listeners:
        listener(message, holder)
    return interaction


def _policy_answered(message: InboundMessage, holder: Policyholder) -> int | None:
    answered = db.session.get(Outbox, message.reply_to_outbox_id) if message.reply_to_outbox_id else None
    return answered.policy_id if answered is not None and answered.policyholder_id == holder.id else None


def _answer_task(message: InboundMessage, holder: Policyholder, policy_id: int | None) -> Activity | None:
    open_task = db.session.scalar(select(Activity.id).where(
        Activity.policyholder_id == holder.id, Activity.reason == TaskReason.INBOUND_MESSAGE,
        Activity.status == ActivityStatus.PLANNED).limit(1))
    if open_task is not None:
        return None
    owner = db.session.get(Agent, holder.owner_agent_id) if holder.owner_agent_id else None
    today = clock.today()
    what = "SMS" if message.channel == MessageChannel.SMS else "email"
    task = Activity(
        source_key=f"inbound_message:{message.id}", reason=TaskReason.INBOUND_MESSAGE,
        kind=ActivityKind.EMAIL if message.channel == MessageChannel.EMAIL else ActivityKind.CALL,
        priority=Priority.NORMAL, subject=f"Answer the {what} of {holder.name}"[:200],
        description=message.text[:2000], due_date=today, planned_start=planned_on(today),
        agent_id=owner.id if owner is not None and owner.status == AgentStatus.ACTIVE else None,
        org_unit_id=holder.org_unit_id, policyholder_id=holder.id, policy_id=policy_id, contact_name=holder.name,
        status=ActivityStatus.PLANNED)
    db.session.add(task)
    return task


# -- the unmatched list -----------------------------------------------------------------------------------------

def waiting() -> Select:
    """``SELECT InboundMessage`` of the messages that reached nobody and no person has handled yet, oldest first."""
    return (select(InboundMessage).where(InboundMessage.policyholder_id.is_(None), InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.received_at, InboundMessage.id))


def assign(message: InboundMessage, holder: Policyholder, *, user) -> None:
    """A manager's decision that ``message`` is ``holder``'s (found in their book): it goes on the timeline with a
    task, as a matched one does — or, an opt-out, withdraws the holder's consent. Refuses a message handled already.
    Flushes."""
    _refuse_if_handled(message)
    if message.opt_out:
        consent.withdraw(holder, message.channel, WithdrawalMethod.KEYWORD, inbound=message, at=message.received_at)
        message.policyholder_id = holder.id
    else:
        take_in(message, holder)
    message.handled_at, message.handled_by_user_id = utcnow(), user.id
    db.session.flush()


def set_aside(message: InboundMessage, *, user) -> None:
    """A manager's decision that ``message`` needs nothing more (spam, a wrong number). Refuses a message handled
    already. Flushes."""
    _refuse_if_handled(message)
    message.handled_at, message.handled_by_user_id = utcnow(), user.id
    db.session.flush()


def _refuse_if_handled(message: InboundMessage) -> None:
    if message.handled_at is not None or message.policyholder_id is not None:
        raise ValidationError({"message_id": ["This message has been handled already."]})
