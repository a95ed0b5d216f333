"""SMS through the gateway interface: the logging gateway (default) and the HTTP gateway against a real server."""

from __future__ import annotations

import logging

import pytest

from insurecrm.config import ConfigError
from insurecrm.models import OutboxChannel, OutboxStatus
from insurecrm.outbox.gateways import HttpSmsGateway, LoggingSmsGateway, sms_gateway
from insurecrm.outbox.sender import send_pending
from tests.outbox.conftest import free_port, queue

PHONE = "+8613900001234"


def sms(session, key="sms:1", language="zh"):
    return queue(session, key=key, channel=OutboxChannel.SMS, recipient=PHONE, language=language)


def test_the_logging_gateway_is_the_default_and_succeeds(app, session, caplog):
    assert isinstance(sms_gateway(app.config), LoggingSmsGateway)
    row = sms(session)
    with caplog.at_level(logging.INFO, logger="insurecrm.outbox.gateways"):
        assert send_pending(10)["sent"] == 1
    assert row.status == OutboxStatus.SENT and row.subject is None
    logged = caplog.text
    assert "【续保提醒】Li Wei您好" in logged and "sms:1" in logged
    assert PHONE not in logged and "1234" in logged  # the number is masked in the log


def test_the_http_gateway_posts_json_with_the_bearer_token(sms_server, session):
    row = sms(session, language="en")
    assert send_pending(10)["sent"] == 1
    (headers, body), = sms_server.requests
    assert headers["Authorization"] == "Bearer gateway-secret"
    assert headers["Content-Type"] == "application/json" and headers["Idempotency-Key"] == "sms:1"
    assert body == {"to": PHONE, "idempotency_key": "sms:1",
                    "text": "Li Wei, your policy P2026000123 expires on December 22, 2026. Please renew to stay "
                            "covered. Your agent: Zhang Min +86 139 0000 0001.\n"}
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


def test_a_server_error_is_retried_and_a_client_error_fails_at_once(sms_server, session):
    row = sms(session)
    sms_server.status = 503
    assert send_pending(10)["retrying"] == 1
    assert row.status == OutboxStatus.PENDING and "503" in row.last_error

    other = sms(session, key="sms:2")
    sms_server.status = 422
    assert send_pending(10)["failed"] == 1
    assert (other.status, other.attempts) == (OutboxStatus.FAILED, 1) and "422" in other.last_error


def test_an_unreachable_gateway_is_retried(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_GATEWAY", "http")
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", f"http://127.0.0.1:{free_port()}/sms")
    row = sms(session)
    assert send_pending(10)["retrying"] == 1
    assert row.status == OutboxStatus.PENDING and "unreachable" in row.last_error


def test_a_gateway_that_took_the_request_but_did_not_answer_in_time_is_uncertain(sms_server, app, session,
                                                                                  monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_TIMEOUT_SECONDS", 0.3)
    sms_server.delay = 1.0
    row = sms(session)
    assert send_pending(10)["uncertain"] == 1
    assert len(sms_server.requests) == 1
    assert row.status == OutboxStatus.FAILED and row.last_error.startswith("uncertain:")


def test_the_gateway_is_chosen_by_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_GATEWAY", "http")
    with pytest.raises(ConfigError, match="INSURECRM_SMS_GATEWAY_URL"):
        sms_gateway(app.config)
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", "https://sms.example/send")
    gateway = sms_gateway(app.config)
    assert isinstance(gateway, HttpSmsGateway) and gateway.url == "https://sms.example/send"
    monkeypatch.setitem(app.config, "SMS_GATEWAY", "carrier-pigeon")
    with pytest.raises(ConfigError, match="log or http"):
        sms_gateway(app.config)
