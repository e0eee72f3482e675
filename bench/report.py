"""Benchmark: the demo college's execution report (领导干部听课制度执行情况报告), by the worker's code.

What is measured, each in a fresh child process so that its peak memory is its own:

- ``report (cold)``: the RQ job function ``run_report`` for an ``execution_report`` run with no stored
  statistics — compliance + statistics by SQL, the snapshot stored, SVG charts, Jinja, WeasyPrint layout
  and PDF writing. This is what the quality center's button costs the first time.
- ``report (snapshot)``: the same run when a fresh snapshot exists (the statistics job ran before).
- ``statistics``: the statistics job alone.

Seconds are the job's wall time inside the child (imports excluded: the RQ worker imports WeasyPrint once
in its parent and forks a work-horse per job, docs/stack-notes.md §4); ``process s`` includes Python start and
imports. Peak memory is the child's ``ru_maxrss`` (from ``os.wait4``), i.e. the whole process as the
kernel saw it — tracemalloc would miss WeasyPrint's C libraries (pango, harfbuzz, cairo).
The phase columns come from the run's own progress steps.

The demo college is built once by ``tingke demo`` into a temporary SQLite database (or ``--database-url``).

Usage::

    .venv/bin/python bench/report.py                 # build the demo, 3 runs of each case
    .venv/bin/python bench/report.py --runs 5
    .venv/bin/python bench/report.py --keep DIR      # keep the database and the PDFs in DIR
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

TARGET_SECONDS = 10.0
TARGET_MB = 500.0


# -- the child: one job, timed ----------------------------------------------------------------------------
def child(kind: str, semester_code: str, out: str | None) -> None:
    import weasyprint  # noqa: F401 - warm, as in the worker's parent process
    from sqlalchemy import select

    from lti_tool.config import Settings
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.reports.models import ReportRun
    from lti_tool.reports.services import RunProgress
    from lti_tool.timetable.models import Semester
    from worker import jobs

    settings = Settings.from_env()
    jobs.configure(settings)
    factory = make_session_factory(make_engine(settings.database_url))
    with factory.begin() as s:
        semester = s.scalars(select(Semester).where(Semester.code == semester_code)).one()
        run = ReportRun(institution_id=semester.institution_id, kind=kind, semester_id=semester.id)
        s.add(run)
        s.flush()
        run_id = run.id

    steps: list[tuple[float, int, str]] = []
    original = RunProgress.__call__

    def record(self: RunProgress, percent: int, message: str = "") -> None:
        steps.append((time.perf_counter(), percent, message))
        original(self, percent, message)

    RunProgress.__call__ = record  # type: ignore[method-assign]
    start, cpu_start = time.perf_counter(), time.process_time()
    jobs.run_report(run_id)
    seconds, job_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    with factory() as s:
        done = s.get(ReportRun, run_id)
        assert done is not None
        if done.status != "succeeded":
            raise SystemExit(f"run failed: {done.error}")
        content = done.content or b""
    pages = 0
    if content.startswith(b"%PDF"):
        import io

        import pypdf

        pages = len(pypdf.PdfReader(io.BytesIO(content)).pages)
        if out:
            Path(out).write_bytes(content)
    phases: dict[str, float] = {}
    marks = [(start, 0, "start"), *steps, (start + seconds, 100, "done")]
    for (t0, _p, message), (t1, _q, _m) in zip(marks, marks[1:], strict=False):
        phases[message] = phases.get(message, 0.0) + (t1 - t0)
    print(
        json.dumps(
            {"seconds": seconds, "job_cpu": job_cpu, "pages": pages, "bytes": len(content), "phases": phases}
        )
    )


# -- the parent -------------------------------------------------------------------------------------------
def run_child(env: dict[str, str], kind: str, semester: str, out: Path | None) -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--semester", semester]
    if out:
        args += ["--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {kind} failed ({proc.returncode}):\n{stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def build_demo(env: dict[str, str]) -> str:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from lti_tool.cli import main; main()", "demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"tingke demo failed:\n{out.stdout}\n{out.stderr}")
    print(f"demo college built in {time.perf_counter() - started:.1f} s")
    for line in out.stdout.splitlines():
        if line.startswith("  records ") or line.startswith("Totals") or ".." in line:
            print("  " + line.strip())
    return out.stdout


def current_semester(env: dict[str, str]) -> str:
    code = (
        "from sqlalchemy import select, func\n"
        "from lti_tool.config import Settings\nfrom lti_tool.db import make_engine, make_session_factory\n"
        "from lti_tool.timetable.models import Semester\n"
        "f = make_session_factory(make_engine(Settings.from_env().database_url))\n"
        "with f() as s:\n"
        "    print(s.scalars(select(Semester.code).order_by(Semester.week1_monday.desc())).first())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def reset_snapshots(env: dict[str, str]) -> None:
    code = (
        "from sqlalchemy import delete\nfrom lti_tool.config import Settings\n"
        "from lti_tool.db import make_engine, make_session_factory\n"
        "from lti_tool.reports.models import StatisticsSnapshot\n"
        "f = make_session_factory(make_engine(Settings.from_env().database_url))\n"
        "with f.begin() as s:\n"
        "    s.execute(delete(StatisticsSnapshot).where(StatisticsSnapshot.frozen.is_(False)))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--semester", default=None, help="Semester code (default: the demo's latest).")
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3, help="Runs of each case (default 3).")
    parser.add_argument(
        "--database-url", default=None, help="Use this database instead of a temporary SQLite."
    )
    parser.add_argument("--keep", default=None, help="Keep the database and PDFs in this folder.")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.semester, args.out)
        return

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tingke-bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        TINGKE_INSTANCE_PATH=str(folder / "instance"),
        PYTHONPATH=str(ROOT),
        TINGKE_DATABASE_URL=args.database_url or f"sqlite:///{folder / 'bench.db'}",
    )
    try:
        build_demo(env)
        semester = args.semester or current_semester(env)
        print(f"semester {semester}; {os.cpu_count()} CPUs; database {env['TINGKE_DATABASE_URL']}")
        rows: list[tuple[str, list[dict[str, Any]]]] = []
        cases = [
            ("report (cold)", "execution_report", True),
            ("statistics", "statistics", True),
            ("report (snapshot)", "execution_report", False),
        ]
        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in cases}
        for i in range(args.runs):
            for name, kind, cold in cases:
                if cold:
                    reset_snapshots(env)
                out = folder / f"report-{i}.pdf" if kind == "execution_report" and args.keep else None
                results[name].append(run_child(env, kind, semester, out))
        rows = list(results.items())
        print()
        print(
            f"{'case':<20}{'job s (median/max)':>20}{'job CPU s':>11}{'process s':>11}{'proc CPU s':>11}"
            f"{'peak MB':>9}{'pages':>7}{'PDF KiB':>9}"
        )
        for name, runs in rows:
            secs = [r["seconds"] for r in runs]
            print(
                f"{name:<20}{statistics.median(secs):>11.2f} / {max(secs):>5.2f}"
                f"{statistics.median(r['job_cpu'] for r in runs):>11.2f}"
                f"{statistics.median(r['process_seconds'] for r in runs):>11.2f}"
                f"{statistics.median(r['cpu_seconds'] for r in runs):>11.2f}"
                f"{max(r['peak_mb'] for r in runs):>9.0f}{runs[0]['pages']:>7}{runs[0]['bytes'] / 1024:>9.0f}"
            )
        print()
        print("phases of 'report (cold)', median seconds:")
        cold = results["report (cold)"]
        for phase in cold[0]["phases"]:
            print(
                f"  {phase or '(start)':<16}"
                f"{statistics.median(r['phases'].get(phase, 0.0) for r in cold):>7.2f}"
            )
        worst_s = max(r["seconds"] for r in results["report (cold)"])
        worst_cpu = max(r["job_cpu"] for r in results["report (cold)"])
        worst_mb = max(r["peak_mb"] for name, runs in rows for r in runs)
        load = os.getloadavg()[0]
        verdict = "OK" if worst_s <= TARGET_SECONDS and worst_mb <= TARGET_MB else "OVER TARGET"
        print(
            f"\ntargets: ≤ {TARGET_SECONDS:.0f} s and ≤ {TARGET_MB:.0f} MB → worst {worst_s:.2f} s wall "
            f"({worst_cpu:.2f} s CPU), {worst_mb:.0f} MB: {verdict}"
        )
        if load > (os.cpu_count() or 1):
            print(
                f"note: load average {load:.1f} on {os.cpu_count()} CPUs — other processes shared the cores, "
                f"so wall seconds exceed the job's CPU seconds"
            )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
