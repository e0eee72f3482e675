"""bench/submit.py cannot rot: five leaders start, autosave and submit against a real gunicorn, and
nothing is lost or duplicated (no timing is asserted: speed targets live in bench/ and README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lti_tool import PROJECT_ROOT


@pytest.mark.real_clock
def test_five_leaders_submit_through_gunicorn(tmp_path: Path, is_postgres: bool) -> None:
    out = tmp_path / "submit.json"
    database = "--postgres" if is_postgres else "--sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.submit", database, "--leaders", "5", "--think", "0.05",
         "--processes", "2", "--json", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(out.read_text())
    assert result["submitted_ok"] == 5 and result["lost"] == 0 and result["duplicated"] == 0
    assert result["errors"] == []
    assert {s: v["requests"] for s, v in result["steps"].items()} == {
        "start": 5,
        "open": 5,
        "autosave": 15,
        "submit": 5,
    }
    assert "| autosave |" in proc.stdout
