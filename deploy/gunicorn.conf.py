"""gunicorn settings for Tingke's web app (deploy/systemd/tingke-web.service, ``tingke serve`` and
scripts/run.sh, bench/submit.py and bench/launch.py; the scale-out test uses it too).

gthread workers: each process serves ``threads`` requests at once, which suits a tool whose requests wait
on PostgreSQL and on LMS key sets. Size: ``workers`` = the host's cores, ``threads`` = 4 (README,
"Production"). Why: a request is 5–20 ms of CPU in Python (bench/submit.py measures it per step) and a
process runs Python on one core at a time (the GIL), so one process per core is what uses the machine;
more processes than cores only take memory and compete for the same cores. The threads let a process
overlap its requests' waits (PostgreSQL round trips, a slow phone's upload, an LMS key-set fetch);
beyond a few, further threads only queue for the same core and stretch every request's latency.
Every value can be changed in /etc/tingke/tingke.env.
"""

import glob
import os

bind = os.environ.get("TINGKE_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("TINGKE_WEB_WORKERS", "2"))
threads = int(os.environ.get("TINGKE_WEB_THREADS", "4"))
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle a process now and then (memory), staggered so they never all restart at once
max_requests_jitter = 500
# gunicorn's control interface (gunicornc) is not used; its socket is one path per user
# (~/.gunicorn/gunicorn.ctl), which a second gunicorn on the host (a bench, a test, another instance)
# would take over from the first.
control_socket_disable = True
accesslog = "-"
# No query strings in the access log: they carry the session token (lti/sessions.py).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss %({x-request-id}i)s'


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Metrics of a previous run are stale: start the multiprocess folder empty."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for path in glob.glob(os.path.join(folder, "*.db")):
            os.remove(path)


def child_exit(server, worker):  # noqa: ANN001, ANN201
    """A worker process that exits takes its live gauges with it (prometheus_client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
