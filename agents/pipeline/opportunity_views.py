"""Pages of the opportunities (销售机会): the list with its filters, sort and downloads, the board by stage, the
detail page (stage history, team, products, CUTE influencers, competitors, win and loss) and the forms.

Thin views over :mod:`agents.pipeline.opportunities`: each loads the opportunity in the user's scope (404 beyond
it), reads its form through the API's schemas and calls the same service as the API; a refused form comes back
with its messages (422), nothing written.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import marshmallow as ma
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, joinedload, selectinload

import agents.permissions  # noqa: F401 - registers the scope rules
import policies.permissions  # noqa: F401
import policyholders.permissions  # noqa: F401
from agents.models import (
    Agent,
    AgentStatus,
    Attitude,
    BankBranch,
    BankPartner,
    Competitor,
    Influencer,
    InfluencerRole,
    Opportunity,
    OpportunityLossReason,
    OpportunitySource,
    OpportunityStatus,
    PipelineStage,
    Referral,
    Referrer,
)
from agents.pipeline import opportunities as services
from agents.pipeline.opportunity_schemas import (
    SCORE_FIELDS,
    CompetitorSchema,
    InfluencerSchema,
    OpportunityArgs,
    OpportunityLoseSchema,
    OpportunityMoveSchema,
    OpportunitySchema,
    OpportunityTeamMemberSchema,
    OpportunityUpdateSchema,
    OpportunityWinSchema,
)
from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import User
from insurecrm.pii import must_pseudonymise
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import load_form, page_roles, paginate_page
from policies.models import Policy, Product
from policyholders.duplicates import likely_duplicates
from policyholders.models import Policyholder
from policyholders.schemas import PolicyholderSchema
from policyholders.services import IN_PLACE_FIELDS
from reports.earned import money
from reports.exports import Heading, csv_chunks, write_xlsx
from reports.tables import Column, ReportResult, Table

bp = Blueprint("pipeline_web", __name__, template_folder="../templates")
WEB_BLUEPRINTS = [bp]
ROLES = services.PIPELINE_ROLES
PER_PAGE = 25
#: the most cards a stage's column of the board shows (its count says how many there are)
BOARD_CARDS = 30
#: rows of the team on the form (a group deal names more members by editing again)
TEAM_ROWS = 6

SOURCE_LABELS = {OpportunitySource.REFERRAL: _l("Referral"), OpportunitySource.CAMPAIGN: _l("Campaign response"),
                 OpportunitySource.WALK_IN: _l("Walk-in"), OpportunitySource.CROSS_SELL: _l("Cross-sell"),
                 OpportunitySource.RENEWAL: _l("Renewal"), OpportunitySource.WEB: _l("Web"),
                 OpportunitySource.OTHER: _l("Other")}
STATUS_LABELS = {OpportunityStatus.OPEN: _l("Open"), OpportunityStatus.WON: _l("Won"),
                 OpportunityStatus.LOST: _l("Lost")}
STATUS_BADGES = {OpportunityStatus.WON: "good", OpportunityStatus.LOST: "bad"}
ROLE_LABELS = {InfluencerRole.COACH: _l("Coach"), InfluencerRole.USER: _l("User"),
               InfluencerRole.TECHNICAL_BUYER: _l("Technical buyer"),
               InfluencerRole.ECONOMIC_BUYER: _l("Economic buyer")}
ATTITUDE_LABELS = {Attitude.SUPPORTER: _l("Supporter"), Attitude.NEUTRAL: _l("Neutral"),
                   Attitude.OPPONENT: _l("Opponent")}
TEAM_ROLE_LABELS = {"lead": _l("Lead"), "member": _l("Member"), "technical": _l("Technical"),
                    "support": _l("Support")}
SCORE_LABELS = {"brand_score": _l("Brand"), "product_score": _l("Product"), "service_score": _l("Service"),
                "relationship_score": _l("Relationship"), "price_score": _l("Price")}
WARNING_TEXTS = {"no_economic_buyer": _l("No economic buyer is known: find who decides and holds the budget."),
                 "economic_buyer_opposed": _l("An economic buyer is an opponent: this deal is at risk.")}
SORT_LABELS = {"expected_close_date": _l("Expected close"), "-expected_premium": _l("Expected premium (highest)"),
               "stage": _l("Stage"), "-probability": _l("Probability (highest)"), "title": _l("Title"),
               "-updated_at": _l("Recently changed"), "-created_at": _l("Newest")}


@bp.context_processor
def _labels() -> dict:
    return {"source_labels": SOURCE_LABELS, "status_labels": STATUS_LABELS, "status_badges": STATUS_BADGES,
            "role_labels": ROLE_LABELS, "attitude_labels": ATTITUDE_LABELS, "team_role_labels": TEAM_ROLE_LABELS,
            "score_labels": SCORE_LABELS, "warning_texts": WARNING_TEXTS, "stage_name": stage_name}


def stage_name(stage: PipelineStage | None) -> str:
    """A stage's name in the reader's language."""
    if stage is None:
        return "—"
    from flask_babel import get_locale

    return stage.name_zh if stage.name_zh and str(get_locale()) == "zh" else stage.name


def _refused(exc: ma.ValidationError) -> dict:
    return {key: _texts(value) for key, value in flatten_messages(exc.normalized_messages()).items()}


def _texts(messages) -> list[str]:
    """A field's messages as texts, those of list items and nested records included."""
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _texts(value)]
    if isinstance(messages, list):
        return [text for value in messages for text in _texts(value)]
    return [str(messages)]


# -- the list, its downloads and the board --------------------------------------------------------------------

def _list_args() -> dict:
    """The list's filters from the query string, read by the API's argument schema (422 page when invalid)."""
    raw = {key: value for key, value in request.args.items()
           if key in OpportunityArgs().fields and key not in ("page", "per_page") and value.strip()}
    return OpportunityArgs().load({"page": 1, "per_page": 1, **raw})


@bp.get("/opportunities")
@page_roles(*ROLES)
def opportunities():
    """The opportunities the user may see, filtered (stage, status, owner, source, close month, text) and sorted,
    a page at a time, with the downloads of the same selection."""
    args = _list_args()
    stmt = services.sorted_by(services.filtered(g.user, args), args["sort"])
    page = paginate_page(stmt.options(joinedload(Opportunity.stage)), per_page=PER_PAGE)
    holders, agents = _names(page.items)
    query = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "pipeline/opportunity_list.html", page=page, holders=holders, agents=agents, args=request.args,
        stages=_stage_choices(), owners=_owner_choices(), sort_labels=SORT_LABELS,
        query=urlencode(query), page_url=lambda n: url_for(".opportunities", **{**query, "page": n}))


def _names(items: list[Opportunity]) -> tuple[dict[int, Policyholder], dict[int, Agent]]:
    """The policyholders and owners of a page of opportunities, two queries for the page."""
    holder_ids = {item.policyholder_id for item in items} - {None}
    agent_ids = {item.owner_agent_id for item in items} - {None}
    holders = {h.id: h for h in db.session.scalars(select(Policyholder).where(Policyholder.id.in_(holder_ids)))}
    agents = {a.id: a for a in db.session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))}
    return holders, agents


def _stage_choices() -> list[PipelineStage]:
    return list(db.session.scalars(select(PipelineStage).where(PipelineStage.active.is_(True))
                                   .order_by(PipelineStage.product_line.is_not(None), PipelineStage.product_line,
                                             PipelineStage.position, PipelineStage.id)))


def _owner_choices() -> list[Agent]:
    return list(db.session.scalars(scoped_select(Agent).where(Agent.status == AgentStatus.ACTIVE)
                                   .order_by(Agent.name, Agent.id).limit(500)))


def _export_table() -> Table:
    """The list's selection as a table of typed columns, for the CSV and XLSX downloads."""
    args = _list_args()
    holder, owner = aliased(Policyholder), aliased(Agent)
    stmt = services.sorted_by(services.filtered(g.user, args), args["sort"])
    stmt = (stmt.outerjoin(holder, holder.id == Opportunity.policyholder_id)
            .outerjoin(owner, owner.id == Opportunity.owner_agent_id)
            .with_only_columns(
                Opportunity.id.label("id"), Opportunity.title.label("title"),
                func.coalesce(holder.name, Opportunity.prospect_name).label("customer"),
                PipelineStage.name.label("stage"), money(Opportunity.probability / 100).label("probability"),
                Opportunity.expected_premium.label("expected_premium"),
                money(Opportunity.expected_premium * Opportunity.probability / 100).label("weighted_premium"),
                Opportunity.expected_close_date.label("expected_close_date"), Opportunity.status.label("status"),
                Opportunity.source.label("source"), owner.name.label("owner"), Opportunity.policy_id.label("policy_id"),
                maintain_column_froms=True))
    columns = [Column("id", _l("Id"), "int"), Column("title", _l("Title")), Column("customer", _l("Customer")),
               Column("stage", _l("Stage")), Column("probability", _l("Probability"), "rate"),
               Column("expected_premium", _l("Expected premium"), "money"),
               Column("weighted_premium", _l("Weighted premium"), "money"),
               Column("expected_close_date", _l("Expected close"), "date"),
               Column("status", _l("Status"), "label:opportunity_status"), Column("source", _l("Source")),
               Column("owner", _l("Owner")), Column("policy_id", _l("Policy id"), "int")]
    return Table("opportunities", _l("Opportunities"), columns, stmt)


@bp.get("/opportunities/export.csv")
@page_roles(*ROLES)
def export_csv():
    """The list's selection (its filters and sort) as CSV, every row, streamed."""
    chunks = csv_chunks(_export_table(), pseudonymise=must_pseudonymise())
    return Response(chunks, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=opportunities-{clock.today()}.csv"})


@bp.get("/opportunities/export.xlsx")
@page_roles(*ROLES)
def export_xlsx():
    """The list's selection as an XLSX workbook with typed cells (money, rates, dates)."""
    filters = [(key, value) for key, value in request.args.items() if key != "page"]
    heading = Heading(title=_("Opportunities"), filters=filters, made_on=clock.today(), scope=g.user.display_name)
    # in memory: an opportunity list is a few thousand rows at most, and nothing is left open behind the response
    target = io.BytesIO()
    write_xlsx(ReportResult([_export_table()]), heading, target, pseudonymise=must_pseudonymise())
    target.seek(0)
    return send_file(target, as_attachment=True, download_name=f"opportunities-{clock.today()}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/opportunities/board")
@page_roles(*ROLES)
def board():
    """The open opportunities by stage of one pipeline (the default one, or ``?product_line=``): each column's
    count and expected premium, its first cards by expected close, and a "move to" form on each card."""
    line = request.args.get("product_line") or None
    stages = services.open_stages(line)
    stage_ids = [stage.id for stage in stages]
    visible = services.filtered(g.user, {"status": OpportunityStatus.OPEN}).where(Opportunity.stage_id.in_(stage_ids))
    totals = {row.stage_id: row for row in db.session.execute(
        visible.with_only_columns(Opportunity.stage_id, func.count().label("count"),
                                  money(func.sum(Opportunity.expected_premium)).label("premium"),
                                  maintain_column_froms=True)
        .group_by(Opportunity.stage_id))}
    rank = func.row_number().over(partition_by=Opportunity.stage_id,
                                  order_by=(Opportunity.expected_close_date.asc().nulls_last(), Opportunity.id))
    ranked = visible.with_only_columns(Opportunity.id, rank.label("rank"), maintain_column_froms=True).subquery()
    cards = db.session.scalars(select(Opportunity).join(ranked, ranked.c.id == Opportunity.id)
                               .where(ranked.c.rank <= BOARD_CARDS)
                               .order_by(Opportunity.expected_close_date.asc().nulls_last(), Opportunity.id)).all()
    holders, _agents = _names(cards)
    columns = [(stage, [card for card in cards if card.stage_id == stage.id], totals.get(stage.id)) for stage in stages]
    lines = sorted(set(db.session.scalars(select(PipelineStage.product_line).where(
        PipelineStage.product_line.is_not(None), PipelineStage.active.is_(True)))))
    return render_template("pipeline/opportunity_board.html", columns=columns, stages=stages, holders=holders,
                           line=line, lines=lines, today=clock.today())


# -- the detail page ------------------------------------------------------------------------------------------

def _load(opportunity_id: int) -> Opportunity:
    return get_visible_or_404(Opportunity, opportunity_id, options=(
        joinedload(Opportunity.stage), joinedload(Opportunity.loss_reason), selectinload(Opportunity.products),
        selectinload(Opportunity.team), selectinload(Opportunity.influencers), selectinload(Opportunity.competitors),
        selectinload(Opportunity.stage_changes)))


@bp.get("/opportunities/<int:opportunity_id>")
@page_roles(*ROLES)
def detail(opportunity_id: int):
    """One opportunity: its figures, customer, referral, team and products, stage history, influencers (with the
    CUTE warnings), competitors side by side, and the forms to move, win or lose it."""
    return _detail(_load(opportunity_id))


def _detail(opportunity: Opportunity, *, errors: dict | None = None, form: str | None = None,
            duplicates: list | None = None, status: int = 200):
    changes = opportunity.stage_changes
    stage_ids = {c.from_stage_id for c in changes} | {c.to_stage_id for c in changes}
    stages = {s.id: s for s in db.session.scalars(select(PipelineStage).where(PipelineStage.id.in_(stage_ids)))}
    actor_ids = {c.actor_user_id for c in changes} - {None}
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))}
    team_ids = {m.agent_id for m in opportunity.team} | {opportunity.owner_agent_id} - {None}
    agents = {a.id: a for a in db.session.scalars(select(Agent).where(Agent.id.in_(team_ids)))}
    product_ids = [p.product_id for p in opportunity.products]
    products = list(db.session.scalars(select(Product).where(Product.active.is_(True) | Product.id.in_(product_ids))
                                       .order_by(Product.name, Product.id)))
    holder = db.session.get(Policyholder, opportunity.policyholder_id) if opportunity.policyholder_id else None
    referral = _referral_of(opportunity)
    holder_policies = list(db.session.scalars(scoped_select(Policy).where(
        Policy.policyholder_id == opportunity.policyholder_id).order_by(Policy.effective_date.desc(), Policy.id)
        .limit(50))) if holder else []
    won_policy = db.session.get(Policy, opportunity.policy_id) if opportunity.policy_id else None
    reasons = db.session.scalars(select(OpportunityLossReason).where(OpportunityLossReason.active.is_(True))
                                 .order_by(OpportunityLossReason.position, OpportunityLossReason.id)).all()
    submitted = dict(request.form) if errors is not None else {}
    return render_template(
        "pipeline/opportunity_detail.html", opportunity=opportunity, holder=holder, referral=referral,
        stages=stages, actors=actors, agents=agents, products={p.id: p for p in products},
        active_products=[p for p in products if p.active], product_ids=product_ids,
        move_to=[s for s in services.open_stages(opportunity.stage.product_line) if s.id != opportunity.stage_id],
        warnings=services.cute_warnings(opportunity.influencers), holder_policies=holder_policies,
        won_policy=won_policy, reasons=reasons, errors=errors or {}, failed=form, submitted=submitted,
        win_values=submitted if form == "win" else _quote_values(opportunity),
        duplicates=duplicates or [], influencers=sorted(opportunity.influencers, key=lambda p: p.id),
        competitors=sorted(opportunity.competitors, key=lambda c: c.id), score_fields=SCORE_FIELDS,
        in_place_fields=IN_PLACE_FIELDS,
    ), status


def _referral_of(opportunity: Opportunity) -> dict | None:
    if opportunity.referral_id is None:
        return None
    row = db.session.execute(select(Referral, BankBranch, BankPartner, Referrer)
                             .join(BankBranch, BankBranch.id == Referral.bank_branch_id)
                             .join(BankPartner, BankPartner.id == BankBranch.bank_partner_id)
                             .join(Referrer, Referrer.id == Referral.referrer_id)
                             .where(Referral.id == opportunity.referral_id)).one()
    return {"referral": row[0], "branch": row[1], "partner": row[2], "referrer": row[3]}


def _quote_values(opportunity: Opportunity) -> dict:
    """The win form's starting values: a saved quote's terms passed in the query string
    (``?product_id=&sum_insured=&premium=&frequency=``), else the opportunity's first product."""
    values = {key: request.args[key] for key in services.POLICY_TERMS if request.args.get(key)}
    if "product_id" not in values and opportunity.products:
        values["product_id"] = str(opportunity.products[0].product_id)
    values.setdefault("effective_date", clock.today().isoformat())
    return values


def _act(opportunity_id: int, form: str, action) -> Response:
    """Run ``action(opportunity)`` for a posted form; commit and go back to the page, or show the page again with
    the messages next to the form that was refused (422), nothing written."""
    opportunity = _load(opportunity_id)
    try:
        message = action(opportunity)
    except ma.ValidationError as exc:
        db.session.rollback()
        return _detail(_load(opportunity_id), errors=_refused(exc), form=form, status=422)
    db.session.commit()
    flash(message, "success")
    target = request.form.get("next") == "board"
    return redirect(url_for(".board") if target else url_for(".detail", opportunity_id=opportunity_id) + f"#{form}")


@bp.post("/opportunities/<int:opportunity_id>/move")
@page_roles(*ROLES)
def move(opportunity_id: int):
    def action(opportunity):
        stage = db.session.get(PipelineStage, load_form(OpportunityMoveSchema())["stage_id"])
        services.move_stage(opportunity, stage, actor=g.user)
        return _("Moved to %(stage)s.", stage=stage_name(stage))

    return _act(opportunity_id, "move", action)


@bp.post("/opportunities/<int:opportunity_id>/win")
@page_roles(*ROLES)
def win(opportunity_id: int):
    def action(opportunity):
        data = load_form(OpportunityWinSchema())
        policy = services.win(opportunity, actor=g.user, **data)
        return _("Won: policy %(number)s.", number=policy.number)

    return _act(opportunity_id, "win", action)


@bp.post("/opportunities/<int:opportunity_id>/lose")
@page_roles(*ROLES)
def lose(opportunity_id: int):
    def action(opportunity):
        data = load_form(OpportunityLoseSchema())
        services.lose(opportunity, reason_id=data["reason_id"], note=data.get("note"), actor=g.user)
        return _("The opportunity is lost.")

    return _act(opportunity_id, "lose", action)


@bp.post("/opportunities/<int:opportunity_id>/policyholder")
@page_roles(*ROLES)
def policyholder(opportunity_id: int):
    """Make the prospect a policyholder: link one of the book (``policyholder_id``, from the duplicate warning)
    or create one from the person's fields, after the duplicate check (confirmed with ``confirm_duplicate``)."""
    opportunity = _load(opportunity_id)
    try:
        if request.form.get("policyholder_id"):
            data = load_form(OpportunityUpdateSchema(only=("policyholder_id",)))
            services.update_opportunity(opportunity, {"version": opportunity.version, **data}, actor=g.user)
        else:
            data = load_form(PolicyholderSchema(only=IN_PLACE_FIELDS))
            duplicates = likely_duplicates(data, user=g.user)
            if duplicates and not request.form.get("confirm_duplicate"):
                return _detail(opportunity, errors={}, form="holder", duplicates=duplicates)
            services.make_policyholder(opportunity, data, actor=g.user)
    except ma.ValidationError as exc:
        db.session.rollback()
        return _detail(_load(opportunity_id), errors=_refused(exc), form="holder", status=422)
    db.session.commit()
    flash(_("The prospect is a policyholder now."), "success")
    return redirect(url_for(".detail", opportunity_id=opportunity_id))


# -- influencers and competitors ----------------------------------------------------------------------------------

def _part(model: type, opportunity: Opportunity, part_id: int):
    record = db.session.get(model, part_id)
    if record is None or record.opportunity_id != opportunity.id:
        abort(404)
    return record


@bp.post("/opportunities/<int:opportunity_id>/influencers")
@page_roles(*ROLES)
def add_influencer(opportunity_id: int):
    def action(opportunity):
        services.add_influencer(opportunity, load_form(InfluencerSchema()))
        return _("Influencer added.")

    return _act(opportunity_id, "influencers", action)


@bp.post("/opportunities/<int:opportunity_id>/influencers/<int:influencer_id>")
@page_roles(*ROLES)
def edit_influencer(opportunity_id: int, influencer_id: int):
    def action(opportunity):
        influencer = _part(Influencer, opportunity, influencer_id)
        if request.form.get("remove"):
            services.remove(opportunity, influencer)
            return _("Influencer removed.")
        services.update_influencer(influencer, load_form(InfluencerSchema(partial=True), clearing=True))
        return _("Influencer saved.")

    return _act(opportunity_id, "influencers", action)


@bp.post("/opportunities/<int:opportunity_id>/competitors")
@page_roles(*ROLES)
def add_competitor(opportunity_id: int):
    def action(opportunity):
        services.add_competitor(opportunity, load_form(CompetitorSchema()))
        return _("Competitor added.")

    return _act(opportunity_id, "competitors", action)


@bp.post("/opportunities/<int:opportunity_id>/competitors/<int:competitor_id>")
@page_roles(*ROLES)
def edit_competitor(opportunity_id: int, competitor_id: int):
    def action(opportunity):
        competitor = _part(Competitor, opportunity, competitor_id)
        if request.form.get("remove"):
            services.remove(opportunity, competitor)
            return _("Competitor removed.")
        services.update_competitor(competitor, load_form(CompetitorSchema(partial=True), clearing=True))
        return _("Competitor saved.")

    return _act(opportunity_id, "competitors", action)


# -- new and edit -------------------------------------------------------------------------------------------------

FORM_FIELDS = ("title", "description", "policyholder_id", "prospect_name", "prospect_phone", "referral_id",
               "owner_agent_id", "stage_id", "expected_premium", "expected_close_date", "source", "is_group_deal",
               "product_ids")
EDIT_FIELDS = ("version", "title", "description", "prospect_name", "prospect_phone", "expected_premium",
               "expected_close_date", "source", "is_group_deal", "product_ids")


def _team_from_form() -> list[dict] | None:
    """The team rows of the form (``team-N-agent_id``, ``team-N-role``), read by the API's schema; ``None``
    when the form has no team rows."""
    if "team-present" not in request.form:
        return None
    rows = []
    for n in range(TEAM_ROWS):
        agent_id = request.form.get(f"team-{n}-agent_id", "").strip()
        if agent_id:
            rows.append({"agent_id": int(agent_id) if agent_id.isdigit() and len(agent_id) < 11 else agent_id,
                         "role": request.form.get(f"team-{n}-role") or "member"})
    try:
        return OpportunityTeamMemberSchema(many=True).load(rows)
    except ma.ValidationError as exc:
        raise ma.ValidationError({"team": _texts(exc.messages)}) from None


@bp.route("/opportunities/new", methods=["GET", "POST"])
@page_roles(*ROLES)
def new():
    """The form of a new opportunity: for the policyholder (``?policyholder_id=``), the referral
    (``?referral_id=``: its prospect, with the people of the book who may be them) or a prospect."""
    holder = _visible_or_404(Policyholder, "policyholder_id")
    referral = _visible_or_404(Referral, "referral_id")
    candidates = services.referral_candidates(referral, user=g.user) if referral else []
    if request.method == "GET":
        values = {"title": "", "source": (OpportunitySource.REFERRAL if referral else OpportunitySource.OTHER).value}
        if referral:
            values |= {"title": _("Referral: %(name)s", name=referral.prospect_name),
                       "product_ids": [referral.product_id] if referral.product_id else []}
            visible = [c for c in candidates if c.visible]
            if len(visible) == 1:
                values["policyholder_id"] = visible[0].id
        return _form_page(values, holder=holder, referral=referral, candidates=candidates)
    try:
        data = load_form(OpportunitySchema(only=FORM_FIELDS))
        team = _team_from_form()
        if team is not None:
            data["team"] = team
        opportunity = services.create_opportunity(data, actor=g.user)
    except ma.ValidationError as exc:
        db.session.rollback()
        return _form_page(_posted(), holder=holder, referral=referral, candidates=candidates,
                          errors=_refused(exc), status=422)
    db.session.commit()
    flash(_("Opportunity created."), "success")
    return redirect(url_for(".detail", opportunity_id=opportunity.id))


@bp.route("/opportunities/<int:opportunity_id>/edit", methods=["GET", "POST"])
@page_roles(*ROLES)
def edit(opportunity_id: int):
    """Change an open opportunity's title, description, prospect, products, figures, source and team."""
    opportunity = _load(opportunity_id)
    if request.method == "GET":
        values = {key: "" if getattr(opportunity, key) is None else getattr(opportunity, key)
                  for key in EDIT_FIELDS if key != "product_ids"}
        values["product_ids"] = [p.product_id for p in opportunity.products]
        values["team"] = [(m.agent_id, m.role) for m in opportunity.team if m.agent_id != opportunity.owner_agent_id]
        return _form_page(values, opportunity=opportunity)
    try:
        data = load_form(OpportunityUpdateSchema(only=EDIT_FIELDS), clearing=True)
        team = _team_from_form()
        if team is not None:
            data["team"] = team
        changed = services.update_opportunity(opportunity, data, actor=g.user)
    except ma.ValidationError as exc:
        db.session.rollback()
        return _form_page(_posted(), opportunity=_load(opportunity_id), errors=_refused(exc), status=422)
    db.session.commit()
    flash(_("Opportunity saved."), "success")
    return redirect(url_for(".detail", opportunity_id=changed.id))


def _visible_or_404(model: type, name: str):
    text = request.values.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 10:
        abort(404)
    return get_visible_or_404(model, int(text))


def _posted() -> dict:
    values = request.form.to_dict()
    values["product_ids"] = [int(v) for v in request.form.getlist("product_ids") if v.isdigit() and len(v) < 11]
    values["team"] = [(int(request.form[f"team-{n}-agent_id"]) if request.form[f"team-{n}-agent_id"].isdigit()
                       else None, request.form.get(f"team-{n}-role", "member"))
                      for n in range(TEAM_ROWS) if request.form.get(f"team-{n}-agent_id", "").strip()]
    return values


def _form_page(values: dict, *, opportunity: Opportunity | None = None, holder=None, referral=None,
               candidates: list | None = None, errors: dict | None = None, status: int = 200):
    selling = g.user.role in services.SELLING_ROLES
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name,
                                                                                          Product.id)).all()
    team = list(values.get("team") or [])
    return render_template(
        "pipeline/opportunity_form.html", values=values, opportunity=opportunity, holder=holder, referral=referral,
        candidates=candidates or [], errors=errors or {}, products=products, owners=_owner_choices(),
        selling=selling, stages=services.open_stages(None),
        team_rows=team + [(None, "member")] * (TEAM_ROWS - len(team)),
        sources={s.value: SOURCE_LABELS[s] for s in OpportunitySource
                 if s != OpportunitySource.REFERRAL or referral or (opportunity and opportunity.referral_id)},
        team_roles={role: TEAM_ROLE_LABELS[role] for role in services.TEAM_ROLES if role != services.LEAD},
    ), status

