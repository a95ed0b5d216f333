"""Inbound webhooks signed as a gateway signs them, and a small book to match against."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from insurecrm.models import Role
from policyholders.messaging.routes import signature

SMS_SECRET, EMAIL_SECRET = "sms-gateway-secret", "mail-gateway-secret"


@pytest.fixture(autouse=True)
def secrets(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_SMS_SECRET", SMS_SECRET)
    monkeypatch.setitem(app.config, "INBOUND_EMAIL_SECRET", EMAIL_SECRET)


@pytest.fixture
def gateway(client):
    """``gateway(channel, body)``: the webhook called as the gateway does (signed now); ``secret=``, ``timestamp=``
    and ``raw=`` (bytes sent as they are) to do it wrong."""

    def post(channel: str, body, *, secret: str | None = None, timestamp: int | None = None, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        secret = secret or (SMS_SECRET if channel == "sms" else EMAIL_SECRET)
        return client.post(f"/api/v1/inbound/{channel}", data=data, content_type="application/json",
                           headers={"X-InsureCRM-Timestamp": stamp,
                                    "X-InsureCRM-Signature": signature(secret, stamp, data)})

    return post


@pytest.fixture
def book(make, session):
    """Li Na (SMS and email consent), Wang Wei and his wife sharing a home number, an admin and a manager."""
    unit = make.org_unit()
    agent = make.agent(unit)
    li = make.policyholder(agent, name="Li Na", phone="+8613800138001", email="Li.Na@Example.com",
                           consent_sms=True, consent_email=True, preferred_language="en")
    wang = make.policyholder(agent, name="Wang Wei", phone="+8613800138002", phone_alt="+862161234567",
                             consent_sms=True, email="wang@example.com")
    wife = make.policyholder(agent, name="Zhao Min", phone="+8613800138003", phone_alt="+862161234567",
                             consent_sms=True, email="zhao@example.com")
    session.commit()
    return SimpleNamespace(unit=unit, agent=agent, li=li, wang=wang, wife=wife,
                           admin=make.user(Role.ADMIN), manager=make.user(Role.BRANCH_MANAGER, org_unit_id=unit.id),
                           agent_user=make.user(Role.AGENT, agent_id=agent.id))
