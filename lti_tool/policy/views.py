"""The policy page: view the current policy file (quality center and organization department), upload a
new version (quality center only), download it to edit.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import format_date, gettext
from sqlalchemy import select

from lti_tool.actor import Actor
from lti_tool.i18n import N_
from lti_tool.nav import register_nav
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import Policy, PolicyError
from lti_tool.policy.store import PolicyStore, version_users
from lti_tool.web import current_actor, db, requires_persona, serves_download

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

bp = Blueprint("policy", __name__, url_prefix="/policy")

register_nav("quality_center", 80, "policy.rules", N_("Policy"), active_prefix="policy.")


@bp.app_context_processor
def _rule_words() -> dict[str, Any]:
    """``rule_text("O-3")`` → "O-3 每门思政必修课至少听1次" in the actor's language: pages never show a rule's
    ID alone (issue 11 §5). Reads the institution's current policy (cached by PolicyStore)."""

    def current() -> tuple[Policy | None, str]:
        """The institution's current policy and the actor's language (no policy outside a session)."""
        actor = g.get("actor")
        if actor is None:
            return None, "zh_CN"
        return PolicyStore(db(), actor.institution_id).current(), actor.locale or "zh_CN"

    def rule_text(rule_id: str) -> str:
        policy, locale = current()
        rule = next((r for r in policy.rules if r.id == rule_id), None) if policy else None
        return rule.titled(locale) if rule is not None else rule_id

    def position_text(code: str, fallback: str | None = None) -> str:
        """A position's name in the actor's language (the policy file's ``name_en`` on English pages)."""
        policy, locale = current()
        if policy is None or code not in policy.positions:
            return fallback or code
        return policy.position_name(code, locale)

    def group_text(code: str, fallback: str | None = None) -> str:
        policy, locale = current()
        if policy is None or code not in policy.groups:
            return fallback or code
        return policy.group_name(code, locale)

    def english() -> bool:
        actor = g.get("actor")
        return actor is not None and (actor.locale or "").startswith("en")

    def localized(params: dict[str, Any] | None) -> dict[str, Any]:
        """A message's parameters for the actor's language: on English pages ``x_en`` stands in for ``x``
        (policy labels such as the kinds of contact point are Chinese data with an English name)."""
        params = dict(params or {})
        if english():
            for key in [k for k in params if k.endswith("_en") and params[k]]:
                params[key[:-3]] = params[key]
        for key, value in params.items():  # a day as the page writes days (2026/12/7, Dec 7, 2026)
            if isinstance(value, str) and _ISO_DAY.fullmatch(value):
                params[key] = format_date(dt.date.fromisoformat(value), "medium")
        return params

    def item_text(rule_id: str, item: Any) -> str:
        """What a rule still misses, in the actor's language: the policy's English name of a kind of
        contact point or of an activity on English pages, the label (data) otherwise."""
        label = str(getattr(item, "label", item))
        policy, _locale = current()
        if policy is None or not english():
            return label
        rule = next((r for r in policy.rules if r.id == rule_id), None)
        if rule is None:
            return label
        for req in rule.requires:
            if req.label == label and req.label_en:
                return req.label_en
        if rule.activity_label == label and rule.activity_label_en:
            return rule.activity_label_en
        return label

    return {
        "rule_text": rule_text,
        "position_text": position_text,
        "group_text": group_text,
        "localized": localized,
        "item_text": item_text,
    }


QC, ORG = "quality_center", "organization"
VIEWERS = (QC, ORG)
MAX_POLICY_BYTES = 256 * 1024


# -- the policy itself ---------------------------------------------------------------------------------------
def _policy_page(actor: Actor, errors: list[str] | None = None, status: int = 200):
    store = PolicyStore(db(), actor.institution_id)
    versions = list(
        db().scalars(
            select(PolicyVersion)
            .where(PolicyVersion.institution_id == actor.institution_id)
            .order_by(PolicyVersion.number.desc())
            .limit(20)
        )
    )
    in_use = version_users(db(), actor.institution_id)
    body = render_template(
        "policy/policy.html",
        policy=store.current(),
        version=store.current_version(),
        versions=versions,
        in_use=in_use,
        errors=errors or [],
        can_upload=actor.persona == QC,
        uploaded=request.args.get("uploaded", ""),
    )
    return body, status


@bp.route("/rules")
@requires_persona(*VIEWERS)
def rules():
    """The current policy: positions, rules with IDs and source clauses, 思政 kinds, the record form."""
    return _policy_page(current_actor())


@bp.route("/rules", methods=["POST"])
@requires_persona(QC)
def upload():
    """Store a new policy version; a bad file is listed problem by problem and nothing is stored."""
    actor = current_actor()
    file = request.files.get("file")
    if file is None or not file.filename:
        return _policy_page(actor, [str(_msg("Choose a policy file (.toml) to upload."))], 400)
    data = file.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        return _policy_page(
            actor, [str(_msg("The file is larger than 256 KiB; it is not a policy file."))], 413
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _policy_page(actor, [str(_msg("The file is not UTF-8 text."))], 400)
    try:
        row = PolicyStore(db(), actor.institution_id).upload(text, actor.person_id)
    except PolicyError as exc:
        return _policy_page(actor, exc.problems, 422)
    return redirect(url_for("policy.rules", uploaded=row.number), code=303)


@bp.route("/export")
@serves_download
@requires_persona(*VIEWERS)
def export():
    """Download the current policy file, to edit and upload again."""
    actor = current_actor()
    text = PolicyStore(db(), actor.institution_id).current().text
    return Response(
        text,
        mimetype="application/toml",
        headers={"Content-Disposition": "attachment; filename=tingke-policy.toml"},
    )


def _msg(message: str) -> str:
    return gettext(message)
