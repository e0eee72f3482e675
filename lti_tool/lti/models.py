"""Registrations, the tool's keys, OIDC login states and launch sessions.

pylti1p3 keeps registrations in a dict or a JSON file; Tingke keeps them as rows (``Platform``,
``Deployment``) behind a ``ToolConfAbstract`` subclass so that dynamic registration and the CLI add
platforms while the app runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow


class Platform(InstitutionScoped, Base):
    """One LMS registration: an issuer and the client id it gave this tool."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    auth_audience: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan"
    )

    @property
    def origin(self) -> str:
        """Scheme and host of the platform, for CSP frame-ancestors."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.auth_login_url or self.issuer)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class Deployment(Base):
    """A deployment id registered for a platform; launches from any other deployment are refused."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(Base):
    """The tool's own RSA key pairs; all are published in the JWKS until removed, the newest signs."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InstanceSecret(Base):
    """The instance's signing secret (session tokens, registration keys) when TINGKE_SECRET_KEY is unset.

    It lives in the database, not on one host's disk, so every app and worker host of one install signs
    and verifies with the same secret, and a database backup restores it (docs in README, "Production").
    One row only (``id`` = 1).
    """

    __tablename__ = "instance_secret"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginState(Base):
    """Server-side OIDC state: created at login initiation, consumed (deleted) by the one launch it allows.

    The nonce sent to the platform is stored with it, so a replayed id_token finds no state and a
    re-posted one finds its state already consumed.
    """

    __tablename__ = "login_state"

    state: Mapped[str] = mapped_column(String(100), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(100), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    target_link_uri: Mapped[str] = mapped_column(String(2000))
    login_params: Mapped[dict] = mapped_column(JSON)
    """The login request's parameters, to offer "open in a new window" when the iframe cannot keep state."""
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class LaunchSession(InstitutionScoped, Base):
    """What a launch established, kept server-side (docs/decisions.md L-4).

    The browser names it by a partitioned (CHIPS) cookie where it keeps one inside the LMS's iframe, else
    by a short-lived signed token in links, forms and fetch calls, renewed on every page. A relaunch of the
    same person retires every link token issued before (``token_epoch``); logging out ends the session
    (``ended_at``).
    """

    __tablename__ = "launch_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    platform_user_id: Mapped[int | None] = mapped_column(ForeignKey("platform_user.id", ondelete="CASCADE"))
    lti_user_id: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    claims: Mapped[dict] = mapped_column(JSON, default=dict)
    """The typed launch claims (``LaunchClaims.to_dict``): context, resource link, NRPS URL, names."""
    persona: Mapped[str] = mapped_column(String(32), default="")
    locale: Mapped[str] = mapped_column(String(16), default="zh_CN")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    """Set by logging out: the cookie and every token naming the session stop working; the row stays
    (recent LMS courses)."""
    token_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Link tokens carry the epoch they were issued in; a relaunch of the same person moves it on, so
    every link token issued before stops working. The cookie is no token: another device's session
    in a browser that keeps it goes on."""


class DownloadTicket(Base):
    """A used download ticket: a download link in a page without the session cookie carries a one-time,
    short-lived ticket for that one URL instead of the session token; redeeming it inserts this row, so a
    copied link works at most once (lti/sessions.py)."""

    __tablename__ = "download_ticket"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
