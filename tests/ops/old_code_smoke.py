"""Run by tests/ops/test_migration_compat.py with PYTHONPATH on an older checkout: does that code still
work against the database it is given? Reads every column of every table it maps, writes through its
ORM (an institution with its policy, a signing key) and builds its app and answers a request."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session


def main(database_url: str) -> None:
    import lti_tool
    from lti_tool.config import Settings
    from lti_tool.db import make_engine
    from lti_tool.lti.keys import KeyService
    from lti_tool.models import Base
    from lti_tool.policy.store import PolicyStore

    # A release from before the layers (issue 10) kept the tenant in directory/. Decide by the old code's
    # own files: an import attempt could find this checkout's module through the editable install.
    if (Path(lti_tool.__file__).parent / "tenancy.py").exists():
        from lti_tool.tenancy import Institution
    else:
        from lti_tool.directory.models import Institution  # type: ignore[no-redef]

    engine = make_engine(database_url)
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            conn.execute(select(table).limit(1)).all()  # every column this code maps still exists
    with Session(engine) as s, s.begin():
        inst = Institution(code=f"OLD{uuid.uuid4().hex[:6]}", name="旧版本写入的学院")
        s.add(inst)
        s.flush()
        PolicyStore(s, inst.id).ensure_version()
        KeyService(s).ensure_key()
    engine.dispose()
    from tempfile import mkdtemp

    from lti_tool.app import create_app

    settings = Settings.from_env()
    app = create_app(
        Settings(
            instance_path=Path(mkdtemp()),
            database_url=database_url,
            redis_url=settings.redis_url,
            secret_key="old-code-smoke-" + "x" * 32,
            base_url="http://localhost:5000",
            testing=True,
        )
    )
    response = app.test_client().get("/lti/config")
    assert response.status_code == 200, response.status_code
    jwks = app.test_client().get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.get_json()["keys"], jwks.status_code
    print("old code works")


if __name__ == "__main__":
    main(sys.argv[1])
