"""One run of a download or import: the only owner of its dataset record while it works.

A run starts by claiming a record (services.claim). From then on the run:
- stamps a heartbeat every second, so a dead worker is noticed;
- writes progress and fields only while it still owns the record (same run id, status active);
- changes the status only through catalog.services, conditional on its run id;
- names its temporary folders after itself.

Anything that takes the record away (a cancel, a delete, another run after a recovery, the
worker shutting down) sets `stopped`. The run raises DownloadStopped at its next check: the
fetch loop checks every HFD_PROGRESS_INTERVAL, backoff pauses wake up at once, and the build
step runs in a helper thread that the run stops waiting for. So a cancel frees the worker within
a couple of seconds, whatever the run is doing.

A database that goes away does not end a run: its writes wait (checking `stopped`) until the
database answers again, for at most HFD_DATABASE_OUTAGE_SECONDS.
"""

import logging
import os
import signal
import threading
import time
import weakref

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from catalog import hub, services
from catalog.models import Dataset
from catalog.progress import DownloadStopped

logger = logging.getLogger(__name__)

BEAT_INTERVAL = 1.0
# How often a waiting run looks at `stopped` (a build step in its helper thread, a database outage).
CHECK_INTERVAL = 0.2

# Set when this process is shutting down (SIGTERM): every run stops and hands its record back.
shutting_down = threading.Event()
_live_runs = weakref.WeakSet()
_live_runs_lock = threading.Lock()


def shut_down():
    """Stop every run of this process at its next check; each gives its record back to the queue."""
    shutting_down.set()
    with _live_runs_lock:
        runs = list(_live_runs)
    for run in runs:
        run.stopped.set()


def install_shutdown_handler():
    """In a worker process: on SIGTERM, hand running downloads back and exit within seconds.

    The process exits once its runs have handed their records back (or after SHUTDOWN_GRACE).
    """
    signal.signal(signal.SIGTERM, _on_sigterm)


SHUTDOWN_GRACE = 8.0


def _on_sigterm(signum, frame):
    if shutting_down.is_set():
        return
    shut_down()
    threading.Thread(target=_exit_when_handed_back, daemon=True, name="shutdown").start()


def _exit_when_handed_back():
    deadline = time.monotonic() + SHUTDOWN_GRACE
    while time.monotonic() < deadline:
        with _live_runs_lock:
            if not _live_runs:
                break
        time.sleep(0.05)
    logging.shutdown()
    # Not sys.exit: fetch threads stuck in a stalled read would keep the process alive until their timeout.
    os._exit(0)


class Run:
    """The owner of one claimed dataset record. Use as a context manager (starts the heartbeat)."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.run_id = dataset.run_id
        # Free bytes the rest of this run needs (set once it knows its files), for a full-disk message.
        self.space_needed = 0
        self.stopped = threading.Event()
        self._finished = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name=f"heartbeat-{dataset.pk}")

    @classmethod
    def claim(cls, dataset_id, start_status=Dataset.Status.DOWNLOADING, task_token=None):
        """The run of a freshly claimed record, or None if it is not ours to run."""
        dataset = with_database(
            lambda: services.claim(dataset_id, start_status, task_token=task_token), f"claiming {dataset_id}"
        )
        return cls(dataset) if dataset is not None else None

    def __enter__(self):
        with _live_runs_lock:
            _live_runs.add(self)
        if shutting_down.is_set():
            self.stopped.set()
        self._beat.start()
        return self

    def __exit__(self, *exc_info):
        self._finished.set()
        self._beat.join(timeout=5)
        with _live_runs_lock:
            _live_runs.discard(self)

    # --- Stopping -------------------------------------------------------------------------

    @property
    def is_stopped(self):
        return self.stopped.is_set()

    @property
    def interrupted(self):
        """Stopped because the worker is shutting down (the record is still ours to hand back)."""
        return shutting_down.is_set()

    def check(self):
        if self.stopped.is_set():
            raise DownloadStopped()

    def sleep(self, seconds):
        """Pause, but wake up and raise DownloadStopped as soon as the run is stopped."""
        if self.stopped.wait(seconds):
            raise DownloadStopped()

    def call_stoppably(self, func):
        """Run func in a helper thread and wait for it, checking `stopped` meanwhile.

        For library calls that cannot be interrupted (the `datasets` build): once stopped, the run
        stops waiting and raises DownloadStopped; the helper finishes on its own and its results
        (written into the run's own temporary folders) are removed by `cleanup`.
        """
        outcome = {}
        done = threading.Event()

        def target():
            try:
                outcome["value"] = func()
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                connection.close()
                done.set()

        threading.Thread(target=target, daemon=True, name=f"build-{self.dataset.pk}").start()
        while not done.wait(CHECK_INTERVAL):
            self.check()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    # --- Writes, all conditional on the run still owning an active record -------------------

    def save(self, **fields):
        """Write fields of the running download (its plan, its progress); DownloadStopped if not ours."""
        self.database(lambda: services.save_run_fields(self.dataset, self.run_id, **fields))

    def transition(self, new_status, **fields):
        """Change the status as this run; DownloadStopped if the record is no longer ours."""
        try:
            self.database(lambda: services.transition(self.dataset, new_status, only_run=self.run_id, **fields))
        except services.TransitionNotAllowed:
            self.stopped.set()
            raise DownloadStopped() from None

    def fail(self, message):
        self.database(lambda: services.fail(self.dataset, message, run_id=self.run_id))

    def hand_back(self):
        """The worker is stopping: put the record back in the queue so the next worker resumes it."""
        self.database(lambda: services.hand_back(self.dataset, self.run_id), stoppable=False)

    def database(self, call, stoppable=True):
        """Call a database write, waiting out an outage (PostgreSQL restarting) instead of failing."""
        return with_database(call, f"running {self.dataset.pk}", self.sleep if stoppable else time.sleep)

    # --- Heartbeat ---------------------------------------------------------------------------

    def _heartbeat(self):
        failing = False
        try:
            while not self._finished.wait(BEAT_INTERVAL):
                try:
                    owned = services.beat(self.dataset.pk, self.run_id)
                except DatabaseError as exc:
                    # An outage pauses the beat; the run goes on and its writes wait for the database.
                    _drop_broken_connection()
                    if not failing:
                        logger.warning("Heartbeat of %s failed (%s); trying again", self.dataset.pk, exc)
                    failing = True
                    continue
                failing = False
                if not owned:
                    self.stopped.set()  # Cancelled, deleted or taken over: stop at the next check.
                    return
        finally:
            connection.close()

    # --- Temporary folders -------------------------------------------------------------------

    def temp_dir(self, final_dir):
        """A fresh folder to build into, named after this run; other runs' leftovers are removed."""
        from catalog import storage

        storage.remove_temp_dirs(final_dir)
        return storage.new_temp_dir(final_dir, tag=self.run_id)

    def interruptible(self):
        """Backoff pauses in this thread wake up when the run stops (see hub.with_retries)."""
        return hub.interruptible_by(self.stopped)


def with_database(call, what, sleep=time.sleep):
    """call(), retried every second while the database is unreachable, for at most
    HFD_DATABASE_OUTAGE_SECONDS; `sleep` may end the wait early (a stopped run)."""
    deadline = time.monotonic() + settings.HFD_DATABASE_OUTAGE_SECONDS
    warned = False
    while True:
        try:
            return call()
        except (OperationalError, InterfaceError) as exc:
            _drop_broken_connection()
            if time.monotonic() > deadline:
                raise
            if not warned:
                logger.warning("Database unreachable while %s (%s); waiting", what, exc)
                warned = True
            sleep(1.0)


def _drop_broken_connection():
    # A connection that saw the database go away is useless; the next query opens a new one.
    try:
        connection.close()
    except DatabaseError:
        pass
