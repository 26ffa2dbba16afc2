"""django-q2's `qcluster`, stopped within seconds by SIGTERM (docker stop, systemd, run.sh).

The stock cluster stops by setting a multiprocessing Event that its sentinel process waits on,
then waits for every running task to end. Both hang: a download can run for hours, and when the
whole process group gets the SIGTERM the sentinel dies while waiting on that Event, after which
setting it blocks forever. So here a SIGTERM to the main process is passed to the cluster's
processes instead: each worker process hands its running download back to the queue (it
resumes on the next start, see catalog.runs) and exits; the main process waits for them (a
container ends when its first process does) and exits. A SIGTERM to the whole group ends the
same way.
"""

import os
import signal
import time

from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from catalog import runs


def _stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def child_pids(parent_pid):
    """Pids of the direct children of a process (read from /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        fields = _stat_fields(entry) if entry.isdigit() else None
        if fields and fields[1] == str(parent_pid):
            children.append(int(entry))
    return children


def running(pid):
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


class StoppableCluster(Cluster):
    stopping = False

    def sig_handler(self, signum, frame):
        if self.stopping or self.sentinel is None:
            return
        self.stopping = True
        processes = [*child_pids(self.sentinel.pid), self.sentinel.pid]
        for pid in processes:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + runs.SHUTDOWN_GRACE + 1
        while any(running(pid) for pid in processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.sentinel.join(timeout=1)


class Command(qcluster.Command):
    """The stock command's options and start-up, with the cluster above."""

    def handle(self, *args, **options):
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = StoppableCluster()
        cluster.start()
        if options.get("run_once"):
            cluster.stop()
