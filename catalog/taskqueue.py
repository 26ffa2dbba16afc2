"""The task queue: django-q2's brokers with task ownership, and the recovery monitor of each worker.

The database is the truth and the queue only transport. Every queued task carries the record's
task token (services.queue_task). When a worker cluster takes a task from the broker, the broker
below notes the taking process on the record (services.accept_task), or drops the task if its
token is no longer the record's. So at any moment a pending record's task is in one of three
places, and the recovery pass can tell which:
- in the broker: its token is listed there (read below);
- held by a worker process (the record names it): lost exactly when that process is gone;
- nowhere (lost with the broker, or the broker was down when it was sent): re-queued.

Each cluster's queue reader (django-q2's pusher process) runs a Monitor thread: it stamps the
worker's heartbeat and runs the recovery pass every HFD_RECOVERY_INTERVAL seconds, starting
right away, so a restarted or surviving cluster picks up lost work within seconds.
"""

import logging
import multiprocessing
import os
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from catalog import services, workers

logger = logging.getLogger(__name__)

OUR_TASKS = {services.DOWNLOAD_TASK, services.PROCESS_LOCAL_TASK}


def task_of(payload):
    """(dataset id, token) of one of our queued tasks, or None for anything else."""
    try:
        task = SignedPackage.loads(payload)
    except Exception:
        return None
    args = task.get("args") or ()
    if task.get("func") in OUR_TASKS and len(args) == 2:
        return args[0], args[1]
    return None


def note_task_start(task):
    """In the worker process about to run a task: name this process as its holder, so a worker that
    dies before its run claims the record is seen as gone (the queue reader that took it lives on)."""
    args = task.get("args") or ()
    if task.get("func") not in OUR_TASKS or len(args) != 2:
        return
    try:
        services.accept_task(args[0], args[1], workers.identity())
    except DatabaseError:
        connection.close()  # The claim waits for the database and checks the token anyway.


class TaskOwnership:
    """Mixed into a django-q2 broker: take only current tasks, note who holds them, run the monitor."""

    def dequeue(self):
        Monitor.ensure_running(self)
        tasks = super().dequeue()
        if not tasks:
            return tasks
        return [(ack_id, payload) for ack_id, payload in tasks if self._accept(ack_id, payload)]

    def _accept(self, ack_id, payload):
        ours = task_of(payload)
        if ours is None:
            return True
        dataset_id, token = ours
        try:
            accepted = services.accept_task(dataset_id, token, workers.identity())
        except DatabaseError:
            # The database is away: keep the task. Its claim checks the token, and if it is lost
            # meanwhile the recovery pass re-queues the record with a new one.
            connection.close()
            return True
        if not accepted:
            logger.info("Dropped a stale task for dataset %s (re-queued, finished or deleted).", dataset_id)
            if ack_id is not None:
                self.acknowledge(ack_id)
        return accepted

    def queued_tokens(self):
        """Tokens of our tasks waiting in the broker."""
        tokens = set()
        for payload in self.queued_payloads():
            ours = task_of(payload)
            if ours:
                tokens.add(ours[1])
        return tokens


class RedisBroker(TaskOwnership, Redis):
    def queued_payloads(self):
        return self.connection.lrange(self.list_key, 0, -1)


class OrmBroker(TaskOwnership, ORM):
    """django-q2's ORM broker, polling cheaply on one kept database connection.

    It polls five times a second (Q_CLUSTER poll), so that a queued task is picked up within
    0.25 s. django-q2 closes the queue reader's connection before each poll, and under
    DATABASE_CONN_MAX_AGE=0 (the default) each poll then opens a new one, and its ORM query costs
    seven times the same query in plain SQL: together about 1% of a core while idle. So a poll is
    one plain-SQL lookup on a kept connection, and django-q2's own dequeue runs only when a task is
    due. A failed poll (a database restart, a dropped idle connection) closes the connection and
    is tried once more on a new one, so an outage is met as before.
    """

    @staticmethod
    def get_connection(list_key=None):
        return OrmQ.objects.using(Conf.ORM)

    def dequeue(self):
        Monitor.ensure_running(self)
        try:
            return self._dequeue_when_due()
        except DatabaseError:
            connections[Conf.ORM].close()
            return self._dequeue_when_due()

    def _dequeue_when_due(self):
        if self.task_due():
            return super().dequeue()
        time.sleep(Conf.POLL)  # as django-q2's dequeue does on an empty queue
        return None

    def task_due(self):
        """True if a task of this queue is waiting (unlocked): the condition of django-q2's dequeue."""
        connection = connections[Conf.ORM]
        table, key, lock = (
            connection.ops.quote_name(name)
            for name in (OrmQ._meta.db_table, OrmQ._meta.get_field("key").column, OrmQ._meta.get_field("lock").column)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {table} WHERE {key} = %s AND {lock} < %s LIMIT 1",
                [self.list_key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            return cursor.fetchone() is not None

    def queued_payloads(self):
        # Rows stay until acknowledged, also while a cluster holds them (then the record names it).
        return list(self.get_connection().filter(key=self.list_key).values_list("payload", flat=True))


class Monitor(threading.Thread):
    """Stamps this worker's heartbeat and re-queues lost work, in the cluster's queue reader."""

    _running_in_pid = None

    @classmethod
    def ensure_running(cls, broker):
        # Only in a cluster's queue reader (a child process), not in a script or test reading the queue.
        if multiprocessing.current_process().name == "MainProcess":
            return
        if cls._running_in_pid != os.getpid():
            cls._running_in_pid = os.getpid()
            cls(broker).start()

    def __init__(self, broker):
        super().__init__(daemon=True, name="recovery-monitor")
        self.broker = broker
        self.identity = workers.identity()

    def run(self):
        connected_since = None
        failing = False
        while True:
            try:
                workers.beat(self.identity)
                if connected_since is None:
                    connected_since = time.monotonic()
                # Judge other machines' heartbeats only after being connected long enough to see fresh ones.
                sure = time.monotonic() - connected_since >= settings.HFD_WORKER_LOST_SECONDS
                services.recover_lost(self.broker_tokens(), sure)
                workers.remove_dead_rows()
                failing = False
            except Exception as exc:
                connected_since = None
                if not failing:
                    logger.warning("Recovery pass failed (%s: %s); trying again", type(exc).__name__, exc)
                failing = True
                try:
                    connection.close()
                except DatabaseError:
                    pass
            time.sleep(settings.HFD_RECOVERY_INTERVAL)

    def broker_tokens(self):
        try:
            return self.broker.queued_tokens()
        except Exception as exc:  # Broker away: nothing is judged lost for lack of a listing.
            logger.warning("Could not read the task queue (%s: %s)", type(exc).__name__, exc)
            return None
