"""One policy's life from issue to today: installments, payments, commissions and status history.

The rules are the application's own, so that the demo book looks as if the application had run it:
the schedule is ``policies.schedule.schedule_dates``; every move follows
``policies.status.ALLOWED_TRANSITIONS``; payments go to the oldest open installments and earn
commission per ``policies.payments`` (first-year rate in the first 12 months of new or transfer-in
business, renewal rate otherwise, split with the bank partner by its commission rate). A policy enters
grace the day after an unpaid due date and lapses the day after its grace period ends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from insurecrm.demo.context import BookContext
from insurecrm.demo.organisation import ProductRef
from insurecrm.demo.reference import COOLING_OFF_REASON, LAPSE_REASON, REINSTATEMENT_REASON
from policies.payments import FIRST_YEAR_BUSINESS, split_commission
from policies.schedule import schedule_dates
from policies.status import ALLOWED_TRANSITIONS

ONE_DAY = timedelta(days=1)
ACTIVE = frozenset({"in_force", "grace", "reinstated"})
#: statuses after which no premium is owed: unpaid installments are waived
ENDED = frozenset({"cancelled", "expired", "renewed", "matured", "terminated_by_claim"})
#: (on time, late within grace) per payer profile; the rest is missed
PAYER_BEHAVIOUR = {"punctual": (0.97, 0.028), "irregular": (0.78, 0.20), "poor": (0.55, 0.33)}
ACTOR_LABEL = "cli:demo"


@dataclass(frozen=True)
class Fate:
    """What happens to a policy besides premiums: nothing, a cancellation (in cooling-off or later) or
    a claim that terminates it, on ``on``."""

    kind: str = "none"  # none, cooling_off, cancel, claim
    on: date | None = None
    reason: str | None = None


class PolicyLife:
    """Simulates one policy (a row in ``ctx.rows``) and writes its children."""

    def __init__(self, ctx: BookContext, policy: dict[str, Any], product: ProductRef, payer: str, *,
                 partner_rate: Decimal | None = None) -> None:
        self.ctx, self.policy, self.product, self.payer = ctx, policy, product, payer
        #: the bank partner's commission rate, for a policy sold through one
        self.partner_rate = partner_rate if policy["bank_partner_id"] is not None else None
        self.status: str | None = None
        self.status_date: date = policy["effective_date"]
        #: the policy was still running when it reached its expiry date (the caller renews or expires it)
        self.reached_expiry = False
        self.first_year_end = policy["effective_date"] + relativedelta(months=12)
        self.installments = [
            ctx.rows.add("installments", {
                "id": ctx.ids.next("installments"), "policy_id": policy["id"], "sequence": sequence,
                "due_date": due, "amount": policy["premium"], "paid_amount": Decimal("0"), "paid_date": None,
                "status": "due",
            })
            for sequence, due in enumerate(schedule_dates(policy["effective_date"], policy["expiry_date"],
                                                          policy["frequency"]), start=1)
        ]

    # -- the walk ----------------------------------------------------------------------------------
    def run(self, fate: Fate) -> None:
        """Issue the policy, collect premiums up to today and apply ``fate``."""
        policy, today = self.policy, self.ctx.today
        self.move("in_force", policy["effective_date"])
        if fate.kind == "cooling_off":
            # the premium is refunded in full: nothing paid, nothing owed, no commission
            self.move("cancelled", fate.on, COOLING_OFF_REASON)
            policy["cancellation_reason"], policy["cooling_off_cancellation"] = COOLING_OFF_REASON, True
            self.finish()
            return
        self.pay([self.installments[0]], policy["issue_date"])
        index: int | None = 1
        stop = fate.on if fate.kind in ("cancel", "claim") else None
        while index is not None and index < len(self.installments):
            due = self.installments[index]["due_date"]
            if due > today or (stop is not None and due >= stop):
                break
            index = self._collect(index)
        self._end(fate)

    def _collect(self, index: int) -> int | None:
        """Collect installment ``index``; the next index, or None when the policy is now in grace or lapsed."""
        ctx, installment = self.ctx, self.installments[index]
        due = installment["due_date"]
        on_time, late = PAYER_BEHAVIOUR[self.payer]
        draw = ctx.rng.random()
        lapse_on = due + timedelta(days=self.product.definition.grace_days) + ONE_DAY
        if lapse_on <= ctx.today and ctx.once("lapse"):
            draw = 1.0  # the book shows at least one lapse
        if draw < on_time:
            early = 0 if self.policy["frequency"] == "monthly" else ctx.rng.randint(0, 7)
            self.pay([installment], max(due - timedelta(days=early), self.policy["issue_date"]))
            return index + 1
        if due + ONE_DAY > ctx.today:
            return None  # due today: not overdue yet
        self.move("grace", due + ONE_DAY)
        missed = 1 - on_time - late
        if self.policy["frequency"] == "monthly":
            missed *= 0.3  # a failed monthly debit is usually retried and paid within the month
        if draw < 1 - missed:
            next_due = (self.installments[index + 1]["due_date"] if index + 1 < len(self.installments)
                        else self.policy["expiry_date"])
            latest = min(self.product.definition.grace_days, (next_due - due).days - 1)
            paid_on = due + timedelta(days=ctx.rng.randint(1, max(1, latest)))
            if paid_on > ctx.today:
                return None  # still in grace today
            self.pay([installment], paid_on)
            self.move("in_force", paid_on)
            return index + 1
        if lapse_on > ctx.today:
            return None
        self.move("lapsed", lapse_on, LAPSE_REASON)
        return self._reinstate(index, lapse_on)

    def _reinstate(self, index: int, lapse_on: date) -> int | None:
        ctx = self.ctx
        long_term = self.product.definition.term_months > 12
        on = lapse_on + timedelta(days=ctx.rng.randint(30, 240))
        if on >= ctx.today or on >= self.policy["expiry_date"]:
            return None
        if not (ctx.chance(0.4 if long_term else 0.1) or ctx.once("reinstatement")):
            return None
        arrears = [i for i in self.installments[index:] if i["due_date"] <= on]
        self.pay(arrears, on, method="bank_transfer")
        self.move("reinstated", on, REINSTATEMENT_REASON)
        return index + len(arrears)

    def _end(self, fate: Fate) -> None:
        policy, today = self.policy, self.ctx.today
        ends_early = fate.kind in ("cancel", "claim") and fate.on <= today and fate.on < policy["expiry_date"]
        if ends_early and self.status in ACTIVE:
            to_status = "cancelled" if fate.kind == "cancel" else "terminated_by_claim"
            self.move(to_status, fate.on, fate.reason)
            if to_status == "cancelled":
                policy["cancellation_reason"] = fate.reason
        elif policy["expiry_date"] <= today and self.status in ("in_force", "reinstated"):
            # a lapsed policy stays lapsed past its expiry, as the daily job policies.grace_and_lapse keeps it
            self.reached_expiry = True
        self.finish()

    def finish(self) -> None:
        """Waive what an ended policy no longer owes."""
        if self.status in ENDED:
            for installment in self.installments:
                if installment["status"] == "due":
                    installment["status"] = "waived"

    # -- the two kinds of event --------------------------------------------------------------------
    def move(self, to_status: str, on: date, reason: str | None = None) -> None:
        """Change status (checked against the application's transition table) and record it."""
        if self.status is not None and to_status not in ALLOWED_TRANSITIONS[self.status]:
            raise AssertionError(f"demo generator: {self.status} → {to_status} is not an allowed transition")
        on = max(on, self.status_date)
        self.ctx.rows.add("policy_status_changes", {
            "id": self.ctx.ids.next("policy_status_changes"), "policy_id": self.policy["id"],
            "from_status": self.status, "to_status": to_status, "effective_date": on, "reason": reason,
            "actor_user_id": None, "actor_label": ACTOR_LABEL, "recorded_at": self.ctx.instant(on),
        })
        self.status, self.status_date = to_status, on
        self.policy["status"], self.policy["status_date"] = to_status, on

    def pay(self, installments: list[dict[str, Any]], on: date, method: str | None = None) -> None:
        """One payment of exactly these installments (in full), with its allocations and commissions."""
        ctx, policy = self.ctx, self.policy
        payment_id = ctx.ids.next("payments")
        amount = sum((i["amount"] for i in installments), Decimal("0"))
        recorded = ctx.instant(on)
        ctx.rows.add("payments", {
            "id": payment_id, "policy_id": policy["id"], "paid_on": on, "amount": amount,
            "method": method or self._method(), "reference": f"PAY{payment_id:010d}",
            "created_at": recorded, "updated_at": recorded,
        })
        premium_by_kind: dict[str, Decimal] = defaultdict(Decimal)
        for installment in installments:
            installment["paid_amount"], installment["paid_date"] = installment["amount"], on
            installment["status"] = "paid"
            ctx.rows.add("payment_allocations", {"payment_id": payment_id, "installment_id": installment["id"],
                                                 "amount": installment["amount"]})
            premium_by_kind[self._commission_kind(installment["due_date"])] += installment["amount"]
        for kind, premium in premium_by_kind.items():
            self._commissions(payment_id, kind, premium, on)

    def _commission_kind(self, due: date) -> str:
        first_year = self.policy["business_type"] in FIRST_YEAR_BUSINESS and due < self.first_year_end
        return "first_year" if first_year else "renewal"

    def _commissions(self, payment_id: int, kind: str, premium: Decimal, on: date) -> None:
        policy, product = self.policy, self.product
        rate = product.first_year_rate if kind == "first_year" else product.renewal_rate
        agent_part, partner_part = split_commission(premium, rate, self.partner_rate)
        payees = []
        if policy["servicing_agent_id"] is not None:
            net = rate if self.partner_rate is None else max(rate - self.partner_rate, Decimal("0"))
            payees.append(("agent", policy["servicing_agent_id"], None, net, agent_part))
        if partner_part > 0:
            payees.append(("bank_partner", None, policy["bank_partner_id"], self.partner_rate, partner_part))
        for payee, agent_id, partner_id, payee_rate, amount in payees:
            self.ctx.rows.add("commissions", {
                "id": self.ctx.ids.next("commissions"), "policy_id": policy["id"], "payment_id": payment_id,
                "payee": payee, "agent_id": agent_id, "bank_partner_id": partner_id, "kind": kind,
                "rate": payee_rate, "base_amount": premium, "amount": amount, "earned_on": on,
            })

    def _method(self) -> str:
        if self.policy["frequency"] == "monthly" or self.policy["channel"] == "bancassurance":
            return "bank_debit"
        return self.ctx.pick(("mobile", "card", "bank_transfer", "cash"), (45, 25, 25, 5))
