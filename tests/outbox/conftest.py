"""Real servers on loopback for the outbox tests: SMTP (aiosmtpd), an SMS gateway (http.server), broken peers."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

import insurecrm.outbox.models  # noqa: F401 - the table must exist before the schema is created
from insurecrm import clock
from insurecrm.models import Outbox, OutboxChannel

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
FROM = "InsureCRM <renewals@insurer.example>"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the SMTP server received; ``refuse`` lists recipients it answers 550; ``delay`` slows each message."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.raw.append(envelope.original_content)
        # stored as a local mailbox would store it: with the line ends of this system
        text = envelope.content.replace(b"\r\n", b"\n")
        self.messages.append(email.message_from_bytes(text, policy=email.policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(delay: float = 0.0) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its mailbox and port."""
    mailbox = Mailbox(delay)
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1, and the app configured to use it."""
    with smtp_server() as (mailbox, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", FROM)
        yield mailbox


@pytest.fixture
def smtp_down(app, monkeypatch):
    """The app pointed at a closed port: every connection is refused."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())


@pytest.fixture
def smtp_dropping_data(app, monkeypatch):
    """An SMTP server that takes the whole message after DATA and hangs up without answering: the message may
    have been delivered, and the sender cannot know."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve():
        connection, _ = listener.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(b"220 hello\r\n")
            stream.flush()
            for line in stream:
                if line.upper().startswith(b"DATA"):
                    stream.write(b"354 go ahead\r\n")
                    stream.flush()
                    received.append(b"".join(iter(lambda: stream.readline(), b".\r\n")))
                    return  # hang up instead of "250 OK"
                stream.write(b"250 ok\r\n")
                stream.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", listener.getsockname()[1])
    yield received
    thread.join(5)
    listener.close()


@dataclass
class SmsGateway:
    url: str
    #: (headers, JSON body) of every request
    requests: list[tuple[dict, dict]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def sms_server(app, monkeypatch):
    """An HTTP SMS gateway on loopback (``status`` and ``delay`` say how it answers), and the app using it."""
    gateway = SmsGateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            gateway.requests.append((dict(self.headers), body))
            time.sleep(gateway.delay)
            self.send_response(gateway.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    monkeypatch.setitem(app.config, "SMS_GATEWAY", "http")
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
    monkeypatch.setitem(app.config, "SMS_GATEWAY_TOKEN", "gateway-secret")
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _on_the_reminders_day(at):
    """Every test runs at :data:`NOW`, unless it moves the clock: the sender words a reminder as of the day it
    sends it and skips one whose policy has expired (:data:`REMINDER` expires on 2026-12-22)."""
    yield


@pytest.fixture
def at():
    """``at(instant)``: the application's clock frozen there until the test ends (or the next call)."""
    frozen = []

    def freeze(instant: datetime) -> None:
        if frozen:
            frozen.pop().__exit__(None, None, None)
        context = clock.frozen(instant)
        context.__enter__()
        frozen.append(context)

    freeze(NOW)
    yield freeze
    if frozen:
        frozen.pop().__exit__(None, None, None)


REMINDER = {"policyholder_name": "Li Wei", "policy_number": "P2026000123", "product_name": "Motor",
            "expiry_date": "2026-12-22", "days_left": 30, "agent_name": "Zhang Min", "agent_phone": "+86 139 0000 0001"}


def queue(session, *, key: str, channel: OutboxChannel = OutboxChannel.EMAIL, kind: str = "renewal_reminder",
          language: str = "en", recipient: str | None = "li.wei@example.com", payload: dict | None = None,
          **kw) -> Outbox:
    """An outbox row as a job queues it (committed to the test's transaction)."""
    row = Outbox(idempotency_key=key, kind=kind, channel=channel, language=language, recipient=recipient,
                 payload=REMINDER if payload is None else payload, **kw)
    session.add(row)
    session.commit()
    return row
