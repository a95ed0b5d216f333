"""Commission statements (docs/metrics.md, "Commission"): per agent and per bank partner, for one calendar month, the
lines of the commission ledger (``commissions``) earned in the month and their totals.

A line is one ledger row, so a statement reconciles to the ledger to the cent: its total is the sum of the rows'
amounts, never a figure computed again. Whose rows a user reads:

- an agent or a bancassurance specialist: their own earnings (``Commission.agent_id`` is theirs);
- a branch manager: the rows on the policies of their branch (the scope rule of ``Policy``);
- an admin: every row.

The bank partner statement is for admins and branch managers only.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select, true

from agents.models import Agent, BankBranch, BankPartner, OrgUnit
from insurecrm.api import Date, Id
from insurecrm.models import Role, User
from insurecrm.scope import visible
from policies.models import Commission, CommissionKind, CommissionPayee, Policy
from reports.catalogue import report
from reports.earned import money
from reports.filters import MAX_PERIOD_YEARS, ReportArgs
from reports.tables import Column, ReportResult, Table

#: who reads their own statement, and who reads the statements of others
OWN = frozenset({Role.AGENT, Role.BANCASSURANCE_SPECIALIST})
AGENT_STATEMENT_ROLES = OWN | {Role.BRANCH_MANAGER, Role.ADMIN}
BANK_STATEMENT_ROLES = frozenset({Role.BRANCH_MANAGER, Role.ADMIN})


def _month_field():
    return Date(past_years=MAX_PERIOD_YEARS, future_years=1,
                metadata={"label": _l("Month (any day of it)"),
                          "description": "Any day of the statement's calendar month (default: the last complete "
                                         "month)."})


class AgentStatementArgs(ReportArgs):
    month = _month_field()
    agent_id = Id(metadata={"label": _l("Agent (id)"),
                            "description": "Only this agent (managers and admins; an agent always reads their own)."})


class BankStatementArgs(ReportArgs):
    month = _month_field()
    bank_partner_id = Id(metadata={"label": _l("Bank partner (id)"), "description": "Only this bank partner."})


def statement_month(args: dict, today: date) -> tuple[date, date]:
    """The first and last day of the statement's month: the month of ``args['month']``, else the last complete
    month before ``today``'s."""
    day = args.get("month") or (today.replace(day=1) - timedelta(days=1))
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _policy_filters(args: dict) -> list[ColumnElement[bool]]:
    """The branch, channel and product filters every report takes, on the commission's policy."""
    conditions = []
    if args.get("org_unit_id") is not None:
        subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(
            select(OrgUnit.path).where(OrgUnit.id == args["org_unit_id"]).scalar_subquery(), autoescape=False))
        conditions.append(Policy.org_unit_id.in_(subtree))
    if args.get("channel") is not None:
        conditions.append(Policy.channel == args["channel"])
    if args.get("product_id") is not None:
        conditions.append(Policy.product_id == args["product_id"])
    return conditions


def ledger_rows(user: User, args: dict, today: date, payee: CommissionPayee) -> ColumnElement[bool]:
    """The condition selecting the ledger rows of a statement: the payee's rows earned in the month that ``user``
    may read (see the module's docstring), under the filters. Joins ``Policy``."""
    first, last = statement_month(args, today)
    conditions = [Commission.payee == payee, Commission.earned_on >= first, Commission.earned_on <= last,
                  *_policy_filters(args)]
    if user.role in OWN:
        conditions.append(Commission.agent_id == user.agent_id)
    else:
        conditions.append(visible(Policy, user))
    if payee is CommissionPayee.AGENT and args.get("agent_id") is not None:
        conditions.append(Commission.agent_id == args["agent_id"])
    if payee is CommissionPayee.BANK_PARTNER and args.get("bank_partner_id") is not None:
        conditions.append(Commission.bank_partner_id == args["bank_partner_id"])
    return and_(true(), *conditions)


def _kind_text() -> ColumnElement:
    return case((Commission.kind == CommissionKind.FIRST_YEAR.value, literal(_("First year"))),
                else_=literal(_("Renewal")))


def _sums() -> list[ColumnElement]:
    first_year = func.sum(case((Commission.kind == CommissionKind.FIRST_YEAR.value, Commission.amount), else_=0))
    renewal = func.sum(case((Commission.kind == CommissionKind.RENEWAL.value, Commission.amount), else_=0))
    return [func.count(Commission.id).label("lines"), money(func.coalesce(first_year, 0)).label("first_year"),
            money(func.coalesce(renewal, 0)).label("renewal"),
            money(func.coalesce(func.sum(Commission.amount), 0)).label("amount")]


def _sum_columns() -> list[Column]:
    return [Column("lines", _l("Lines"), "int"), Column("first_year", _l("First-year commission"), "money"),
            Column("renewal", _l("Renewal commission"), "money"), Column("amount", _l("Total commission"), "money")]


def _line_columns() -> list[Column]:
    return [Column("policy_number", _l("Policy number")), Column("paid_on", _l("Payment date"), "date"),
            Column("kind", _l("Kind")), Column("base_amount", _l("Premium paid (base)"), "money"),
            Column("rate", _l("Rate"), "rate"), Column("amount", _l("Commission"), "money")]


def _line_values() -> list[ColumnElement]:
    return [Policy.number.label("policy_number"), Commission.earned_on.label("paid_on"), _kind_text().label("kind"),
            Commission.base_amount.label("base_amount"), Commission.rate.label("rate"),
            Commission.amount.label("amount")]


def _month_note(args: dict, today: date):
    first, last = statement_month(args, today)
    return _l("Commission earned from %(start)s to %(end)s: one line per row of the commission ledger, so the totals "
              "are the ledger's to the cent.", start=first.isoformat(), end=last.isoformat())


@report("commission-statement", title=_l("Commission statement (agents)"), args=AgentStatementArgs,
        roles=AGENT_STATEMENT_ROLES, order=70, period=False,
        description=_l("The commission each agent earned in a month, line by line, with the totals."),
        help=(_l("One line per row of the commission ledger earned in the month: the policy, the payment date, "
                 "whether first-year or renewal commission, the premium it was earned on, the rate and the amount. "
                 "On a bancassurance premium the agent's rate is the product's rate less the bank partner's, and the "
                 "amount is the product's commission less the partner's part. Agents read their own statement, "
                 "managers their branch's, admins everyone's."),))
def agent_statement(user: User, args: dict, today: date) -> ReportResult:
    where = ledger_rows(user, args, today, CommissionPayee.AGENT)
    agent = (Commission.agent_id.label("agent_id"), Agent.name.label("agent_name"), Agent.code.label("agent_code"))
    base = select().select_from(Commission).join(Policy, Policy.id == Commission.policy_id) \
        .join(Agent, Agent.id == Commission.agent_id).where(where)
    person = [Column("agent_id", _l("Agent"), "agent", name_key="agent_name"), Column("agent_code", _l("Code"))]
    lines: Select = base.add_columns(*agent, *_line_values()).order_by(
        Agent.name_sort_key, Agent.id, Commission.earned_on, Policy.number, Commission.id)
    per_agent: Select = base.add_columns(*agent, *_sums()).group_by(*agent, Agent.name_sort_key) \
        .order_by(Agent.name_sort_key, Commission.agent_id)
    total: Select = select(*_sums()).select_from(Commission).join(Policy, Policy.id == Commission.policy_id) \
        .where(where)
    return ReportResult(
        tables=[Table("lines", _l("Lines"), [*person, *_line_columns()], lines),
                Table("agents", _l("Totals per agent"), [*person, *_sum_columns()], per_agent),
                Table("total", _l("Total"), _sum_columns(), total)],
        notes=[_month_note(args, today)],
    )


@report("bank-commission-statement", title=_l("Commission statement (bank partners)"), args=BankStatementArgs,
        roles=BANK_STATEMENT_ROLES, order=71, period=False,
        description=_l("The commission each bank partner earned in a month, line by line, with the totals."),
        help=(_l("One line per row of the commission ledger earned by a bank partner in the month: the policy, the "
                 "bank branch that sold it, the payment date, first-year or renewal, the premium, the partner's "
                 "commission rate and the amount. For admins (every partner) and branch managers (the policies of "
                 "their branch)."),))
def bank_statement(user: User, args: dict, today: date) -> ReportResult:
    where = ledger_rows(user, args, today, CommissionPayee.BANK_PARTNER)
    partner = (BankPartner.id.label("bank_partner_id"), BankPartner.code.label("partner_code"),
               BankPartner.name.label("partner_name"))
    base = select().select_from(Commission).join(Policy, Policy.id == Commission.policy_id) \
        .join(BankPartner, BankPartner.id == Commission.bank_partner_id).where(where)
    columns = [Column("partner_code", _l("Code")), Column("partner_name", _l("Bank partner"))]
    branch = select(BankBranch.name).where(BankBranch.id == Policy.bank_branch_id).scalar_subquery()
    lines: Select = base.add_columns(*partner, branch.label("bank_branch"), *_line_values()).order_by(
        BankPartner.code, Commission.earned_on, Policy.number, Commission.id)
    per_partner: Select = base.add_columns(*partner, *_sums()).group_by(*partner).order_by(BankPartner.code)
    total: Select = select(*_sums()).select_from(Commission).join(Policy, Policy.id == Commission.policy_id) \
        .where(where)
    return ReportResult(
        tables=[Table("lines", _l("Lines"), [*columns, Column("bank_branch", _l("Bank branch")), *_line_columns()],
                      lines),
                Table("partners", _l("Totals per bank partner"), [*columns, *_sum_columns()], per_partner),
                Table("total", _l("Total"), _sum_columns(), total)],
        notes=[_month_note(args, today)],
    )
