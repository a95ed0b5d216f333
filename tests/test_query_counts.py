"""Every page runs a fixed number of SQL queries, whatever the size of the book.

Two demo books, of 1,000 and of 10,000 policyholders, are built in databases of their own (once per test run and
database, then copied for each xdist worker); each main page is requested as the role that uses it, on both books,
and the number of statements must be the same.
"""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import event, select

from agents.models import Activity, Agent, Opportunity, PipelineStage
from insurecrm import create_app
from insurecrm.db import db
from insurecrm.demo import build_demo_book
from insurecrm.models import User
from insurecrm.registry import metadata
from policies.models import Claim, Policy
from policyholders.models import Policyholder
from reports import modules  # noqa: F401 - registers the reports
from reports.catalogue import for_role
from tests import databases

SIZES = (1000, 10000)
pytestmark = pytest.mark.slow


def _build_book(url: str, *, size: int) -> None:
    """Commit a demo book of ``size`` policyholders into the empty database at ``url``."""
    # memory:// as the session's app: the limiter is one object, and an app built here re-binds it
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "qc", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_STORAGE_URI": "memory://"})
    metadata.create_all(db.engine)
    with app.app_context():
        build_demo_book(policyholders=size, seed=5, password="qc-password", progress=False)
        db.session.commit()
    db.session.remove()
    db.engine.dispose()  # a PostgreSQL template must have no connection left


@pytest.fixture(scope="module")
def books(backend, tmp_path_factory):
    """{size: (app, url)} — each a committed demo book of that many policyholders.

    Each book is built once per test run and backend, and every xdist worker gets a copy of its own (tests/databases:
    :func:`~tests.databases.shared_sqlite_copy`, :func:`~tests.databases.shared_pg_copy`): the pages only read it.
    """
    built = {}
    try:
        for size in SIZES:
            build = partial(_build_book, size=size)
            if backend.startswith("sqlite"):
                url = databases.shared_sqlite_copy(tmp_path_factory, f"qc{size}", build)
            else:
                url = databases.shared_pg_copy(tmp_path_factory, f"qc{size}", build, prefix=f"insurecrm_qc{size}")
            built[size] = (create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "qc",
                                       "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://"}), url)
        yield built
    finally:
        db.session.remove()
        for _app, url in built.values():
            db.configure(url)
            db.engine.dispose()
            if not url.startswith("sqlite"):
                databases.drop_pg_database(url)
        db.configure(backend)  # the rest of the session's tests use the backend's database again


def _first(model, *where):
    return db.session.scalar(select(model.id).where(*where).order_by(model.id).limit(1))


def pages_for(username: str) -> list[str]:
    """The pages to measure for a demo user, with ids of records in their book."""
    user = db.session.scalar(select(User).where(User.username == username))
    own_holder, own_policy = Policyholder.owner_agent_id == user.agent_id, Policy.servicing_agent_id == user.agent_id
    urls = {
        "agent1": lambda: ["/my-day", "/tasks", "/policyholders", "/policyholders/new", "/service-requests",
                           f"/policyholders/{_first(Policyholder, Policyholder.owner_agent_id == user.agent_id)}",
                           f"/policies/{_first(Policy, Policy.servicing_agent_id == user.agent_id)}",
                           f"/policies/new?policyholder_id={_first(Policyholder, own_holder)}",
                           f"/claims/{_first(Claim, Claim.policy_id.in_(select(Policy.id).where(own_policy)))}",
                           "/agenda", "/agenda?view=day", "/agenda.ics", "/activities/new",
                           f"/activities/{_first(Activity, Activity.agent_id == user.agent_id)}"],
        "manager1": lambda: ["/dashboard", "/tasks", "/tasks?assignee=all", "/policyholders", "/policyholders/new",
                             "/service-requests",
                             f"/dashboard/agents/{_first(Agent, Agent.id.in_(select(Policy.servicing_agent_id)))}",
                             "/agenda", "/agenda/team", "/agenda/team?view=day", "/activities/new"],
        "admin": lambda: ["/dashboard", "/admin", "/admin/users", "/admin/products", "/admin/agents",
                          "/admin/org-units", "/agenda/team"],
        "actuary1": lambda: ["/dashboard", "/policyholders"],
    }[username]()
    # the Reports section: its index and every report the role may run, at their default filters
    urls += ["/reports"] + [f"/reports/{report.name}" for report in for_role(user.role)]
    # the scorecards: an agent's own, the branch's table with the ranks, one agent's card with its targets
    seller = Agent.id.in_(select(Policy.servicing_agent_id))
    urls += {"agent1": lambda: ["/scorecard"], "admin": lambda: ["/scorecards"],
             "manager1": lambda: ["/scorecards", f"/scorecards/{_first(Agent, seller)}"]}.get(username, list)()
    # the opportunities: the list, the board, the forms and one of the agent's own; the admins' loss reasons
    own_opportunity = Opportunity.owner_agent_id == user.agent_id
    urls += {"agent1": lambda: ["/opportunities", "/opportunities?status=open&sort=-expected_premium",
                                "/opportunities/board", "/opportunities/new",
                                f"/opportunities/{_first(Opportunity, own_opportunity)}",
                                f"/opportunities/{_first(Opportunity, own_opportunity)}/edit"],
             "manager1": lambda: ["/opportunities", "/opportunities/board"],
             "admin": lambda: ["/opportunities", "/admin/loss-reasons", "/admin/pipeline-stages",
                               f"/admin/pipeline-stages/{_first(PipelineStage)}"]}.get(username, list)()
    # the duplicates queue (managers and admins) and the merge history (admins)
    urls += {"manager1": lambda: ["/policyholders/duplicates"],
             "admin": lambda: ["/policyholders/duplicates", "/policyholders/duplicates?page=2",
                               "/policyholders/merges"]}.get(username, list)()
    # segments: the list, the builder and its live count, and the members of a segment of the user's
    if username in ("agent1", "manager1", "admin"):
        segment = _segment_of(user)
        urls += ["/segments", "/segments/new", f"/segments/{segment}", f"/segments/{segment}/edit",
                 "/segments/count?status=active&product_line=health&renewal_due_days=90&quadrant=keep"]
    # campaign effectiveness: every campaign, and one run over manager1's segment with a control group
    if username in ("manager1", "admin", "actuary1"):
        urls += ["/campaigns/effect", f"/campaigns/{_campaign_run()}/effect"]
        # the campaigns: the list, one campaign's page (its message previewed for a member), its editor, a run's members
        campaign = _campaign_run()
        urls += ["/campaigns", f"/campaigns/{campaign}"]
        if username != "actuary1":
            from policyholders.campaigns.models import CampaignRun

            run = db.session.scalar(select(CampaignRun.id).where(CampaignRun.campaign_id == campaign))
            urls += [f"/campaigns/{campaign}/edit", f"/campaigns/runs/{run}", f"/campaigns/runs/{run}?outcome=sent"]
    return [(user.get_id(), url) for url in urls]


def _campaign_run() -> int:
    """The id of manager1's campaign over their segment, run once (the first time) in the book."""
    from insurecrm import clock
    from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind, CampaignStatus
    from policyholders.campaigns.runs import run_campaign

    found = db.session.scalar(select(Campaign.id).where(Campaign.name == "Measured campaign"))
    if found is None:
        manager = db.session.scalar(select(User).where(User.username == "manager1"))
        campaign = Campaign(name="Measured campaign", kind=CampaignKind.CROSS_SELL, channel=CampaignChannel.SMS,
                            status=CampaignStatus.ACTIVE, segment_id=_segment_of(manager), owner_user_id=manager.id,
                            org_unit_id=manager.org_unit_id, start_date=clock.today(), control_percent=10)
        db.session.add(campaign)
        db.session.flush()
        run_campaign(campaign, clock.today())
        db.session.commit()
        found = campaign.id
    return found


#: a segment's filter with a condition of every kind that reads another table
SEGMENT_FILTER = {"status": ["active"], "tags_any": ["vip"], "age_min": 30, "product_line": ["health", "life"],
                  "policy_status": ["in_force"], "renewal_due_days": 90, "quadrant": ["keep", "secure"],
                  "churn_min": 0, "birthday_month": [1, 6]}


def _segment_of(user) -> int:
    """The id of a segment of ``user``'s, kept in the book the first time (the same filter on both books)."""
    from policyholders.segments.models import Segment

    found = db.session.scalar(select(Segment.id).where(Segment.owner_user_id == user.id))
    if found is None:
        segment = Segment(name="Measured", criteria=SEGMENT_FILTER, owner_user_id=user.id,
                          org_unit_id=user.org_unit_id)
        db.session.add(segment)
        db.session.commit()
        found = segment.id
    return found


def count_statements(app, session_token: str, url: str) -> int:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_token
    # each request starts with an empty session, as on a server: the test's one application context would otherwise
    # keep the session, and what its identity map still holds of earlier pages (weakly: as the garbage collector
    # left it) would spare a page some of its lazy loads, by chance
    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(statements)


@pytest.mark.parametrize("username", ["agent1", "manager1", "admin", "actuary1"])
def test_pages_run_the_same_number_of_queries_on_1000_and_10000_policyholders(books, username):
    counts: dict[int, dict[str, int]] = {}
    for size, (app, url) in books.items():
        db.configure(url)
        with app.app_context():
            counts[size] = {page: count_statements(app, token, page) for token, page in pages_for(username)}
    small, large = (counts[size] for size in SIZES)
    # the record ids differ between the books, so compare page by page in order
    assert list(small.values()) == list(large.values()), f"small: {small}\nlarge: {large}"
    assert max(small.values()) < 40, small
