"""The instance secret, shared by every host through the database.

``TINGKE_SECRET_KEY`` wins when set (the env file of every host carries the same value). Otherwise the
secret is one row of ``instance_secret``: the first process to need it inserts a random one, and a process
that loses that race reads the winner's. An install that used to keep its secret in
``instance/secret_key`` (single server, before this table) moves that value into the database the first
time, so its registration URLs and open sessions stay valid.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.config import Settings
from lti_tool.lti.models import InstanceSecret

logger = logging.getLogger(__name__)


def stored_secret(session: Session) -> str | None:
    row = session.get(InstanceSecret, 1)
    return row.value if row is not None else None


def resolve_secret(settings: Settings, factory: sessionmaker[Session]) -> str:
    """The secret this instance signs with (see the module docstring for the order)."""
    if settings.secret_key:
        return settings.secret_key
    with factory() as session:
        value = stored_secret(session)
        if value:
            return value
        legacy = settings.instance_path / "secret_key"
        value = legacy.read_text().strip() if legacy.exists() else os.urandom(32).hex()
        session.add(InstanceSecret(id=1, value=value))
        try:
            session.commit()
        except IntegrityError:  # another host stored one first: use theirs
            session.rollback()
            winner = stored_secret(session)
            assert winner, "instance_secret row vanished"
            return winner
        logger.info(
            "instance secret stored in the database (%s)",
            "from instance/secret_key" if legacy.exists() else "new",
        )
        return value
