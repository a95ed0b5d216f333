"""Gateways that deliver outbox messages: email over SMTP, SMS through a logging or an HTTP gateway.

A gateway either returns (the message was handed over) or raises :class:`DeliveryError` saying what the
failure means for the message, because that decides whether the sender may try again:

- ``RETRY``: certainly not delivered (connection refused, login refused, a 4xx answer): try again later;
- ``PERMANENT``: certainly not delivered and trying again cannot help (a 5xx refusal of the recipient);
- ``UNCERTAIN``: the message may have been delivered (the connection broke after the message was sent,
  before the answer came): never sent again without a human, like a sender that crashed at that moment.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
import smtplib
import ssl
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from http.client import HTTPException
from typing import Protocol
from urllib.error import HTTPError, URLError

from insurecrm import clock
from insurecrm.config import ConfigError

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    RETRY = "retry"
    PERMANENT = "permanent"
    UNCERTAIN = "uncertain"


#: how the sender's error of an uncertain message begins (the outbox page lists them apart)
UNCERTAIN_PREFIX = "uncertain:"


class DeliveryError(Exception):
    def __init__(self, message: str, outcome: Outcome = Outcome.RETRY):
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Attachment:
    """A file an email carries: its name, MIME type (``application/pdf``) and bytes."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    #: the outbox row's idempotency key: the idempotency key given to an SMS gateway
    key: str
    recipient: str
    subject: str | None
    body: str
    #: files sent with an email (a multipart message); an SMS carries none
    attachments: tuple[Attachment, ...] = ()
    #: an email's ``Message-ID``, kept on its outbox row (:func:`new_message_id`); an SMS has none
    message_id: str | None = None


class Gateway(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...

    def close(self) -> None: ...


def new_message_id(outbox_id: int, sender: str) -> str:
    """A new ``Message-ID`` for the outbox row ``outbox_id`` (``<outbox.42.9f…@insurer.example>``, the domain of
    ``sender``), kept on the row so that every copy of it carries the same one and a reply can be traced to it.

    The row's id tells an admin reading the headers which row it was; the 80 random bits make it unguessable, since a
    reply naming it is put on the timeline of the row's policyholder whoever sends it."""
    domain = _domain(sender)
    return f"<outbox.{outbox_id}.{secrets.token_hex(10)}@{domain}>"


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2].lower() or "insurecrm.invalid"


class EmailGateway:
    """Email over SMTP (``smtplib``): one connection for a batch of messages, opened when first needed, with
    STARTTLS and a login when configured. MAIL, RCPT and DATA are sent one by one, so that a failure before DATA
    (certainly not delivered) is told apart from one during DATA (perhaps delivered)."""

    def __init__(self, *, host: str, port: int, sender: str, starttls: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 30):
        self.host, self.port, self.sender, self.starttls = host, port, sender, starttls
        self.username, self.password, self.timeout = username, password, timeout
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_config(cls, config) -> EmailGateway:
        return cls(host=config["MAIL_SERVER"], port=config["MAIL_PORT"], sender=config["MAIL_FROM"],
                   starttls=config["MAIL_USE_STARTTLS"], username=config["MAIL_USERNAME"],
                   password=config["MAIL_PASSWORD"], timeout=config["OUTBOX_TIMEOUT_SECONDS"])

    def email(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = format_datetime(clock.now())
        email["Message-ID"] = message.message_id or make_msgid(domain=_domain(self.sender))
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to an automatic message
        email.set_content(message.body)
        for attachment in message.attachments:  # the text stays the first part of a multipart/mixed message
            maintype, _slash, subtype = attachment.content_type.partition("/")
            email.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                                 filename=attachment.filename)
        return email

    def send(self, message: OutgoingMessage) -> None:
        data = self.email(message).as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as SMTP requires
        try:
            smtp = self._connection()
            self._expect(smtp.mail(parseaddr(self.sender)[1]), "MAIL FROM")
            self._expect(smtp.rcpt(message.recipient), "RCPT TO")
        except DeliveryError:
            self._reset()
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc!r}") from exc
        except UnicodeError as exc:  # an address SMTP cannot carry (no SMTPUTF8 here): never deliverable
            self._reset()
            raise DeliveryError(f"SMTP cannot send to {message.recipient!r}: {exc}", Outcome.PERMANENT) from exc
        try:
            smtp.data(data)
        except smtplib.SMTPDataError as exc:  # the server answered and refused the message: not delivered
            self._reset()
            raise DeliveryError(f"SMTP refused the message: {exc.smtp_code} {exc.smtp_error!r}",
                                Outcome.PERMANENT if exc.smtp_code >= 500 else Outcome.RETRY) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"SMTP connection lost while sending the message: {exc!r}",
                                Outcome.UNCERTAIN) from exc

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    @staticmethod
    def _expect(answer: tuple[int, bytes], command: str) -> None:
        code, text = answer
        if code >= 400:
            raise DeliveryError(f"SMTP {command} refused: {code} {text!r}",
                                Outcome.PERMANENT if code >= 500 else Outcome.RETRY)

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def masked(phone: str) -> str:
    return phone[:3] + "•" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "•••"


class LoggingSmsGateway:
    """Writes each SMS to the log and succeeds: the default, for trials and development."""

    def send(self, message: OutgoingMessage) -> None:
        log.info("SMS to %s [%s]: %s", masked(message.recipient), message.key, message.body)

    def close(self) -> None:
        pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # a redirect is an answer other than 2xx: a failure, never a silent re-POST elsewhere


class HttpSmsGateway:
    """POSTs ``{"to", "text", "idempotency_key"}`` as JSON to ``INSURECRM_SMS_GATEWAY_URL`` with the bearer token
    ``INSURECRM_SMS_GATEWAY_TOKEN`` (the key also goes in an ``Idempotency-Key`` header, for gateways that drop
    duplicates). Any answer but 2xx is a failure: 4xx other than 408 and 429 is permanent."""

    def __init__(self, url: str, token: str | None, timeout: float = 30):
        self.url, self.token, self.timeout = url, token, timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, message: OutgoingMessage) -> None:
        body = json.dumps({"to": message.recipient, "text": message.body, "idempotency_key": message.key})
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout):
                return
        except HTTPError as exc:
            exc.close()
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise DeliveryError(f"SMS gateway answered {exc.code} {exc.reason}",
                                Outcome.PERMANENT if permanent else Outcome.RETRY) from None
        except URLError as exc:  # raised while connecting or sending the request: the gateway has not got it
            raise DeliveryError(f"SMS gateway unreachable: {exc.reason!r}") from None
        except (OSError, HTTPException) as exc:  # the request went out; the answer did not come back
            raise DeliveryError(f"SMS gateway did not answer: {exc!r}", Outcome.UNCERTAIN) from None

    def close(self) -> None:
        pass


def sms_gateway(config) -> Gateway:
    """The SMS gateway chosen by ``INSURECRM_SMS_GATEWAY`` (``log`` or ``http``)."""
    choice = config["SMS_GATEWAY"]
    if choice == "log":
        return LoggingSmsGateway()
    if choice == "http":
        if not config["SMS_GATEWAY_URL"]:
            raise ConfigError("INSURECRM_SMS_GATEWAY=http needs INSURECRM_SMS_GATEWAY_URL")
        return HttpSmsGateway(config["SMS_GATEWAY_URL"], config["SMS_GATEWAY_TOKEN"],
                              config["OUTBOX_TIMEOUT_SECONDS"])
    raise ConfigError(f"INSURECRM_SMS_GATEWAY must be log or http, not {choice!r}")
