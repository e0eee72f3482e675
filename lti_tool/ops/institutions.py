"""Registering many institutions and their LMS platforms from one file (a province or a university group
running one Tingke for dozens of colleges).

One row per institution and platform (an institution with two LMSs has two rows with the same code):

    代码/code, 名称/name, 时区/timezone (IANA name, default Asia/Shanghai), 发行者/issuer, 客户端/client_id,
    部署/deployment_ids (; separated), 认证地址/auth_url, 令牌地址/token_url, 公钥地址/jwks_url,
    平台名称/platform_name, 受众/audience (optional)

The platform columns may be left empty on every row of an institution that registers dynamically later.
Every row is checked before anything is stored; a bad row is named by row and column and nothing from the
file is stored. Re-importing updates names, time zones and platform URLs and adds deployments; it never
duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.config import Settings
from lti_tool.lti.models import Platform
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import Row, RowErrors, read_table
from lti_tool.tenancy import Institution

logger = logging.getLogger(__name__)

ALIASES = {
    "code": ["代码", "学校代码", "institution"],
    "name": ["名称", "学校名称"],
    "timezone": ["时区", "time_zone", "tz"],
    "issuer": ["发行者", "平台发行者", "iss"],
    "client_id": ["客户端", "客户端id", "client"],
    "deployment_ids": ["部署", "部署id", "deployment_id", "deployments"],
    "auth_url": ["认证地址", "auth_login_url"],
    "token_url": ["令牌地址", "auth_token_url"],
    "jwks_url": ["公钥地址", "key_set_url"],
    "platform_name": ["平台名称"],
    "audience": ["受众", "auth_audience"],
}
PLATFORM_COLUMNS = ("issuer", "client_id", "deployment_ids", "auth_url", "token_url", "jwks_url")
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass
class InstitutionRow:
    code: str
    name: str
    timezone: str
    platform: PlatformSpec | None


@dataclass
class ImportPlan:
    rows: list[InstitutionRow]
    new_institutions: list[str] = field(default_factory=list)
    updated_institutions: list[str] = field(default_factory=list)
    new_platforms: int = 0
    updated_platforms: int = 0


class InstitutionImport:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    def plan(self, data: bytes, filename: str) -> ImportPlan:
        """Read and check every row; raises ``ValidationFailed`` naming each bad row and column."""
        table = read_table(data, filename, ALIASES, required=["code", "name"])
        errors = table.errors
        rows: list[InstitutionRow] = []
        names: dict[str, tuple[str, str, int]] = {}
        owners: dict[tuple[str, str], str] = {}
        for row in table.rows:
            parsed = self._row(row, errors)
            if parsed is None:
                continue
            seen = names.get(parsed.code)
            if seen is not None and (seen[0], seen[1]) != (parsed.name, parsed.timezone):
                errors.add(
                    row.number,
                    "name",
                    f"institution {parsed.code} has another name or time zone on row {seen[2]}",
                )
                continue
            names[parsed.code] = (parsed.name, parsed.timezone, row.number)
            if parsed.platform is not None:
                key = (parsed.platform.issuer, parsed.platform.client_id)
                if owners.setdefault(key, parsed.code) != parsed.code:
                    errors.add(
                        row.number,
                        "client_id",
                        f"this issuer and client id are already given to {owners[key]}",
                    )
                    continue
            rows.append(parsed)
        existing = {
            i.code: i for i in self.session.scalars(select(Institution).where(Institution.code.in_(names)))
        }
        platforms = {
            (p.issuer, p.client_id): p
            for p in self.session.scalars(select(Platform).where(Platform.issuer.in_({k[0] for k in owners})))
        }
        plan = ImportPlan(rows)
        by_id = {i.id: i.code for i in self.session.scalars(select(Institution))} if platforms else {}
        for (issuer, client_id), code in owners.items():
            platform = platforms.get((issuer, client_id))
            if platform is None:
                plan.new_platforms += 1
            elif by_id.get(platform.institution_id) != code:
                number = next(
                    r for r in table.rows if r.get("client_id") == client_id and r.get("issuer") == issuer
                ).number
                errors.add(
                    number,
                    "client_id",
                    f"this issuer and client id belong to {by_id.get(platform.institution_id)}",
                )
            else:
                plan.updated_platforms += 1
        errors.raise_if_any("Institutions import")
        for code in names:
            (plan.updated_institutions if code in existing else plan.new_institutions).append(code)
        return plan

    def apply(self, plan: ImportPlan) -> None:
        registrations = RegistrationService(self.session, self.settings)
        for row in plan.rows:
            inst = self.session.scalars(select(Institution).where(Institution.code == row.code)).first()
            if inst is None:
                inst = Institution(code=row.code, name=row.name, timezone=row.timezone)
                self.session.add(inst)
                self.session.flush()
                PolicyStore(self.session, inst.id).ensure_version()
            else:
                inst.name, inst.timezone = row.name, row.timezone
            if row.platform is not None:
                registrations.add_platform(row.code, row.platform)
        self.session.flush()
        logger.info(
            "institutions imported: %d new, %d updated, %d platforms new, %d updated",
            len(plan.new_institutions),
            len(plan.updated_institutions),
            plan.new_platforms,
            plan.updated_platforms,
        )

    def _row(self, row: Row, errors: RowErrors) -> InstitutionRow | None:
        before = len(errors.errors)
        code, name = row.get("code"), row.get("name")
        if not code:
            errors.add(row.number, "code", "the institution code is empty")
        elif len(code) > 64 or any(c.isspace() for c in code):
            errors.add(row.number, "code", "a code has at most 64 characters and no spaces")
        if not name:
            errors.add(row.number, "name", "the institution name is empty")
        elif len(name) > 200:
            errors.add(row.number, "name", "a name has at most 200 characters")
        tz = row.get("timezone") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            errors.add(row.number, "timezone", f"“{tz}” is not a time zone name (e.g. Asia/Shanghai)")
        platform = None
        given = [c for c in PLATFORM_COLUMNS if row.get(c)]
        if given:
            for column in PLATFORM_COLUMNS:
                if not row.get(column):
                    errors.add(
                        row.number,
                        column,
                        "empty, but the row describes a platform (fill every platform column)",
                    )
            for column in ("issuer", "auth_url", "token_url", "jwks_url"):
                value = row.get(column)
                parts = urlsplit(value)
                if value and (parts.scheme not in ("http", "https") or not parts.netloc):
                    errors.add(row.number, column, f"“{value}” is not an http(s) URL")
            platform = PlatformSpec(
                issuer=row.get("issuer"),
                client_id=row.get("client_id"),
                deployment_ids=[d.strip() for d in row.get("deployment_ids").split(";") if d.strip()],
                auth_login_url=row.get("auth_url"),
                auth_token_url=row.get("token_url"),
                key_set_url=row.get("jwks_url"),
                name=row.get("platform_name"),
                auth_audience=row.get("audience"),
            )
        if len(errors.errors) > before:
            return None
        return InstitutionRow(code, name, tz, platform)
