"""`tingke institution import FILE`: 100 institutions and platforms; bad rows named; re-import updates."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from lti_tool.lti.models import Deployment, Platform
from lti_tool.policy.models import PolicyVersion
from lti_tool.tenancy import Institution
from tests.support.cli import cli_runner

HEADER = ["代码", "名称", "时区", "发行者", "客户端", "部署", "认证地址", "令牌地址", "公钥地址", "平台名称"]


def _row(i: int, *, tz: str = "Asia/Shanghai", deployments: str = "1") -> list[str]:
    lms = f"https://lms{i:03d}.example.edu"
    return [
        f"C{i:03d}",
        f"第{i}职业技术学院",
        tz,
        lms,
        f"client-{i}",
        deployments,
        f"{lms}/mod/lti/auth.php",
        f"{lms}/mod/lti/token.php",
        f"{lms}/mod/lti/certs.php",
        "Moodle",
    ]


def _write(path, rows: list[list[str]], header: list[str] = HEADER) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return str(path)


def test_one_hundred_institutions_with_their_platforms(monkeypatch, tmp_path, database_url, session_factory):  # type: ignore[no-untyped-def]
    run = cli_runner(monkeypatch, database_url, tmp_path, secret_key="k" * 40)
    rows = [_row(i, tz="Asia/Urumqi" if i % 10 == 0 else "Asia/Shanghai") for i in range(1, 101)]
    rows.append(
        [
            *_row(7)[:3],
            "https://moodle2.example.edu",
            "second",
            "a;b",
            "https://moodle2.example.edu/a",
            "https://moodle2.example.edu/t",
            "https://moodle2.example.edu/k",
            "Moodle 2",
        ]
    )
    path = _write(tmp_path / "inst.csv", rows)
    preview = run("institution", "import", path, "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "100 new institution(s), 0 updated; 101 new platform(s)" in preview.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Institution)) == 0
    result = run("institution", "import", path)
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Institution)) == 100
        assert s.scalar(select(func.count()).select_from(Platform)) == 101
        assert (
            s.scalar(select(func.count()).select_from(PolicyVersion)) == 100
        )  # each gets the default policy
        c010 = s.scalars(select(Institution).where(Institution.code == "C010")).one()
        assert c010.timezone == "Asia/Urumqi"
        c007 = s.scalars(select(Institution).where(Institution.code == "C007")).one()
        deps = s.scalars(
            select(Deployment.deployment_id).join(Platform).where(Platform.institution_id == c007.id)
        ).all()
        assert sorted(deps) == ["1", "a", "b"]
    rows[4] = _row(5, deployments="1;2")
    rows[4][1] = "改名学院"
    again = run("institution", "import", _write(tmp_path / "inst2.csv", rows))
    assert "0 new institution(s), 100 updated; 0 new platform(s), 101 updated" in again.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Institution)) == 100
        assert s.scalars(select(Institution.name).where(Institution.code == "C005")).one() == "改名学院"
        assert s.scalar(select(func.count()).select_from(Deployment)) == 103  # 100 + a, b + 2


def test_bad_rows_are_named_and_nothing_is_stored(monkeypatch, tmp_path, database_url, session_factory):  # type: ignore[no-untyped-def]
    run = cli_runner(monkeypatch, database_url, tmp_path, secret_key="k" * 40)
    good = _row(1)
    bad_tz = _row(2, tz="Beijing")
    bad_url = _row(3)
    bad_url[6] = "ftp://lms/auth"
    half = _row(4)
    half[4] = ""
    taken = _row(5)
    taken[3], taken[4] = good[3], good[4]  # another institution's issuer and client id
    result = run("institution", "import", _write(tmp_path / "bad.csv", [good, bad_tz, bad_url, half, taken]))
    assert result.exit_code == 2
    out = result.output
    assert "第 3 行，列“时区”" in out and "Beijing" in out
    assert "第 4 行，列“认证地址”" in out
    assert "第 5 行，列“客户端”" in out
    assert "第 6 行，列“客户端”" in out and "C001" in out
    assert "nothing was imported" in out
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Institution)) == 0
    missing = run("institution", "import", _write(tmp_path / "nohdr.csv", [["X"]], header=["代码"]))
    assert missing.exit_code == 2 and "missing column(s): name" in missing.output


def test_institutions_without_platforms_register_dynamically_later(
    monkeypatch, tmp_path, database_url, session_factory
):  # type: ignore[no-untyped-def]
    run = cli_runner(monkeypatch, database_url, tmp_path, secret_key="k" * 40)
    path = _write(tmp_path / "names.csv", [["A1", "甲学院"], ["B2", "乙学院"]], header=["code", "name"])
    assert run("institution", "import", path).exit_code == 0
    with session_factory() as s:
        assert sorted(s.scalars(select(Institution.code))) == ["A1", "B2"]
        assert s.scalars(select(Institution.timezone)).all() == ["Asia/Shanghai", "Asia/Shanghai"]
