"""Claims on a policy, and the renewal case (续保) of a yearly policy that reached its renewal window."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from insurecrm.demo.context import BookContext
from insurecrm.demo.lifecycle import ACTIVE
from insurecrm.demo.organisation import AgentRef, ProductRef
from insurecrm.demo.reference import CLAIM_REJECTION_REASONS, LOST_RENEWAL_NOTES
from policies.numbers import CLAIM_CODE, format_number

#: expected claims per policy-year, by product
CLAIM_RATES = {"HE-MED1": 0.18, "HE-HOSP1": 0.12, "MO-CAR1": 0.22, "AC-PA1": 0.05, "AC-GRP1": 0.6,
               "PR-HOME1": 0.03, "PR-SME1": 0.08}
#: (smallest, largest) claim amount by line; amounts are spread log-uniformly in between
CLAIM_AMOUNTS = {"health": (800, 40_000), "motor": (1_000, 40_000), "accident": (500, 30_000),
                 "property": (2_000, 150_000)}
DESCRIPTIONS = {"health": ("Hospitalisation for pneumonia", "Appendectomy", "Fractured wrist, day surgery",
                           "Chemotherapy course"),
                "motor": ("Rear-end collision at a junction", "Scratched while parked", "Windscreen broken",
                          "Collision with a scooter; third-party injury"),
                "accident": ("Fall on stairs; fractured ankle", "Cycling accident", "Burn injury at home"),
                "property": ("Water damage from a burst pipe", "Kitchen fire", "Burglary; electronics stolen",
                             "Typhoon damage to the roof")}
#: the kind of loss of an ordinary claim, by line (a terminating claim is a death)
CLAIM_KINDS = {"health": "medical", "motor": "damage", "accident": "medical", "property": "damage"}
RENEWAL_WINDOW_DAYS = 60
LOST_REASONS = tuple(LOST_RENEWAL_NOTES)


def add_claims(ctx: BookContext, policy: dict[str, Any], product: ProductRef, *, terminating: bool) -> None:
    """Claims reported during the policy's cover; a terminating claim is the death claim that ended it."""
    if terminating:
        _terminating_claim(ctx, policy, product)
        return
    rate = CLAIM_RATES.get(product.code, 0.0)
    if not rate or policy["cooling_off_cancellation"]:
        return
    start = policy["effective_date"]
    end = min(policy["expiry_date"], ctx.today) if policy["status"] in ACTIVE else policy["status_date"]
    end = min(end, ctx.today - timedelta(days=1))
    if end <= start:
        return
    expected = rate * (end - start).days / 365
    for _ in range(int(expected) + ctx.chance(expected % 1)):
        loss = start + ctx.days(0, (end - start).days)
        report = min(loss + ctx.days(0, 20), ctx.today - timedelta(days=1))
        _claim(ctx, policy, product, loss, report)
    if policy["status"] in ACTIVE and end == ctx.today - timedelta(days=1) and ctx.once("open claim"):
        report = max(start, ctx.today - ctx.days(1, 10))
        _claim(ctx, policy, product, max(start, report - ctx.days(0, 5)), report)


def _claim(ctx: BookContext, policy: dict[str, Any], product: ProductRef, loss: date, report: date) -> None:
    low, high = CLAIM_AMOUNTS[product.definition.line]
    amount = min(ctx.money(low * (high / low) ** ctx.rng.random()), policy["sum_insured"])
    age = (ctx.today - report).days
    incurred, paid, reason = amount, Decimal("0"), None
    if age < 15:
        status = ctx.pick(("reported", "under_review"))
    elif age < 45:
        status = ctx.pick(("under_review", "approved", "paid"), (3, 2, 5))
    else:
        status = "rejected" if ctx.once("rejected claim") else ctx.pick(("paid", "rejected", "closed"), (78, 12, 10))
    if status == "paid":
        incurred = paid = ctx.money(float(amount) * ctx.rng.uniform(0.6, 1.0))
    elif status in ("rejected", "closed"):
        incurred = Decimal("0")
        reason = ctx.pick(CLAIM_REJECTION_REASONS) if status == "rejected" else None
    _claim_row(ctx, policy, loss, report, status, incurred, paid, ctx.pick(DESCRIPTIONS[product.definition.line]),
               reason, CLAIM_KINDS[product.definition.line])


def _terminating_claim(ctx: BookContext, policy: dict[str, Any], product: ProductRef) -> None:
    ended = policy["status_date"]
    loss = max(policy["effective_date"], ended - ctx.days(20, 60))
    report = min(loss + ctx.days(1, 10), ended)
    description = "Death of the insured" if product.definition.line == "life" else "Fatal road accident"
    _claim_row(ctx, policy, loss, report, "paid", policy["sum_insured"], policy["sum_insured"], description, None,
               "death")


def _claim_row(ctx: BookContext, policy: dict[str, Any], loss: date, report: date, status: str, incurred: Decimal,
               paid: Decimal, description: str, reason: str | None, kind: str) -> None:
    ctx.rows.add("claims", {
        "id": ctx.ids.next("claims"),
        "number": format_number(CLAIM_CODE, report.year, ctx.next_serial(f"claim:{report.year}")),
        "policy_id": policy["id"], "loss_date": loss, "report_date": report, "kind": kind, "status": status,
        "incurred_amount": incurred, "paid_amount": paid, "description": description, "rejection_reason": reason,
        "created_at": ctx.instant(report), "updated_at": ctx.instant(min(report + ctx.days(0, 40), ctx.today)),
    })


def add_renewal_case(ctx: BookContext, policy: dict[str, Any], product: ProductRef, owner: AgentRef, *,
                     renewing: dict[str, Any] | None, lost: bool = False) -> None:
    """The renewal case of a yearly policy whose renewal window has opened: renewed (pointing at the
    renewal), lost (expired unrenewed) or still open; none for a policy that ended otherwise."""
    due = policy["expiry_date"]
    opened = due - timedelta(days=RENEWAL_WINDOW_DAYS)
    if opened > ctx.today or not product.definition.renewable:
        return
    case = {"id": ctx.ids.next("renewal_cases"), "policy_id": policy["id"], "due_date": due, "opened_on": opened,
            "assigned_agent_id": owner.id if owner.active else None, "org_unit_id": owner.org_unit_id,
            "first_contacted_at": None, "last_contacted_at": None, "escalated_at": None, "quoted_premium": None,
            "lost_reason": None, "lost_note": None, "renewing_policy_id": None, "closed_at": None, "version": 1,
            "created_at": ctx.instant(opened), "updated_at": ctx.instant(min(due, ctx.today))}
    if renewing is not None:
        _contacted(ctx, case, opened, renewing["issue_date"])
        case.update(status="renewed", renewing_policy_id=renewing["id"], quoted_premium=renewing["premium"],
                    closed_at=ctx.instant(renewing["issue_date"]))
    elif lost:
        reason = ctx.pick(LOST_REASONS, (35, 25, 15, 10, 3, 12))
        if ctx.chance(0.8):
            _contacted(ctx, case, opened, due)
        case.update(status="lost", lost_reason=reason, lost_note=LOST_RENEWAL_NOTES[reason], closed_at=ctx.instant(due))
    elif policy["status"] in ACTIVE and due > ctx.today:
        _open_case(ctx, case, policy, opened, due)
    else:
        return
    ctx.rows.add("renewal_cases", case)


def _open_case(ctx: BookContext, case: dict[str, Any], policy: dict[str, Any], opened: date, due: date) -> None:
    elapsed = (ctx.today - opened).days
    status = ctx.pick(("open", "contacted", "quoted"), (4, 3, 3)) if elapsed > 3 else "open"
    case["status"] = status
    if status != "open":
        _contacted(ctx, case, opened, ctx.today)
    if status == "quoted":
        case["quoted_premium"] = ctx.money(float(policy["premium"]) * ctx.rng.uniform(0.97, 1.1))
    if status == "open" and (due - ctx.today).days < 14:
        # escalated by the daily job the demo runs for its last days (policies.escalate_renewals), which gives the
        # branch manager the escalation task with it; the instant is still drawn, so a seed keeps its book
        ctx.instant(due - timedelta(days=14))


def _contacted(ctx: BookContext, case: dict[str, Any], opened: date, until: date) -> None:
    span = max(0, (until - opened).days - 1)
    first = opened + ctx.days(0, min(span, 30))
    case["first_contacted_at"] = ctx.instant(first)
    case["last_contacted_at"] = ctx.instant(first + ctx.days(0, max(0, (until - first).days - 1)))
