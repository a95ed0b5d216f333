"""The ``insurecrm`` command."""

from __future__ import annotations

import pytest
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from insurecrm.cli import main
from insurecrm.models import Role, User


@pytest.fixture
def run(app):
    def invoke(*args, input=None):
        return app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)

    return invoke


def test_db_check_reports_no_drift_on_a_current_schema(run):
    result = run("db", "check")
    assert result.exit_code == 0, result.output
    assert "No drift" in result.output


def test_users_create_links_an_agent(run, make, session):
    agent = make.agent(code="AG777")
    result = run("users", "create", "--username", "li.na", "--role", "agent", "--agent-code", "AG777",
                 "--password", "a long enough password")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "li.na"))
    assert user.role == Role.AGENT and user.agent_id == agent.id


def test_users_create_refuses_bad_input_with_messages_and_writes_nothing(run, session):
    before = session.scalar(select(func.count(User.id)))
    result = run("users", "create", "--username", "x", "--role", "agent", "--password", "short")
    assert result.exit_code == 1
    assert "password" in result.output and "agent_id" in result.output
    assert "Traceback" not in result.output
    assert session.scalar(select(func.count(User.id))) == before


def test_demo_refuses_a_book_that_is_not_empty(run, make):
    make.policyholder()
    result = run("demo", "--policyholders", "5")
    assert result.exit_code == 1
    assert "empty" in result.output
    assert run("demo", "--if-empty").exit_code == 0


def test_jobs_run_and_status(run, make):
    first = run("jobs", "run", "--date", "2026-11-22", "policies.open_renewal_cases")
    assert first.exit_code == 0, first.output
    assert "policies.open_renewal_cases 2026-11-22: cases_opened=0" in first.output
    assert "already done" in run("jobs", "run", "--date", "2026-11-22").output
    status = run("jobs", "status")
    assert "2026-11-22  policies.open_renewal_cases" in status.output and "succeeded" in status.output
    unknown = run("jobs", "run", "no.such.job")
    assert unknown.exit_code == 1 and "unknown job no.such.job" in unknown.output
