"""A campaign's run against a second scheduler running it for the same date, on PostgreSQL with real connections:
one run, each member once, each message once — the second waits on the run's unique key while the first works,
then finds the run done and adds nothing.

Rows must be committed for real and seen by other connections: a database of its own, runs in threads, each with
its own session (as tests/jobs/test_concurrent_jobs.py)."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from insurecrm import create_app
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.registry import metadata
from policyholders.campaigns import runs
from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind, CampaignMessage, CampaignStatus
from policyholders.segments.models import Segment
from tests import databases
from tests.factories import Factory

pytestmark = pytest.mark.postgresql_only
DAY = date(2026, 11, 22)


@pytest.fixture
def committed(backend):
    url = databases.create_pg_database("insurecrm_campaign_race")
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        yield create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "campaigns",
                          "RATELIMIT_STORAGE_URI": "memory://"}), engine
    finally:
        db.session.remove()
        engine.dispose()
        databases.drop_pg_database(url)
        db.configure(backend)  # the rest of the session's tests use the backend's database again


def a_campaign(make: Factory) -> int:
    unit = make.org_unit()
    agent = make.agent(unit)
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=unit.id)
    for n in range(30):
        make.policyholder(agent, name=f"Member {n}", consent_sms=True, consent_marketing=True, region="Shanghai")
    segment = Segment(name="Shanghai", criteria={"region": ["Shanghai"]}, owner_user_id=manager.id,
                      org_unit_id=unit.id)
    make.session.add(segment)
    make.session.flush()
    campaign = Campaign(name="Race", kind=CampaignKind.CROSS_SELL, channel=CampaignChannel.SMS,
                        status=CampaignStatus.ACTIVE, segment_id=segment.id, owner_user_id=manager.id,
                        org_unit_id=unit.id, start_date=DAY, control_percent=10, cost_per_message=Decimal("0.10"))
    campaign.messages = [CampaignMessage(language="zh", body="{{ policyholder_name }}您好")]
    make.session.add(campaign)
    make.session.commit()
    return campaign.id


def test_two_schedulers_running_a_campaign_for_the_same_date_make_one_run(committed, monkeypatch):
    app, engine = committed
    with app.app_context():
        campaign_id = a_campaign(Factory(db.session))
        db.session.remove()
    first_reached, second_started = threading.Event(), threading.Event()
    real_reach = runs._reach

    def interleaved(*args):
        """The first run records its members and waits, uncommitted, while the second starts the same run."""
        left = real_reach(*args)
        if threading.current_thread().name == "first" and not first_reached.is_set():
            first_reached.set()
            second_started.wait(5)
            time.sleep(0.5)  # the second is now blocked on the run's unique key, behind this uncommitted run
        return left

    monkeypatch.setattr(runs, "_reach", interleaved)
    errors: list[BaseException] = []

    def run(after: threading.Event | None = None):
        with app.app_context():
            try:
                if after is not None:
                    after.wait(10)
                    second_started.set()
                runs.run_campaign(db.session.get(Campaign, campaign_id), DAY)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, name="first"),
               threading.Thread(target=run, args=(first_reached,), name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and first_reached.is_set()
    with engine.connect() as connection:
        count = lambda sql: connection.execute(sa.text(sql)).scalar()  # noqa: E731
        assert count("SELECT count(*) FROM campaign_runs") == 1
        assert count("SELECT count(*) FROM campaign_members") == 30
        assert count("SELECT count(*) FROM campaign_members WHERE outcome = 'control'") == 3
        assert count("SELECT count(*) FROM outbox WHERE kind = 'campaign'") == 27
