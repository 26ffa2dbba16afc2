"""Live updates to WebSocket clients: group names, the sender, and the embedded-mode relay.

Every message a consumer gets is {"type": "dataset.event", "event": ..., "dataset": state}, where
state is progress.dataset_state(). Two transports, chosen by the channel layer in settings:

* Redis (REDIS_URL set): broadcast() sends each update to the channel layer from whichever
  process made the change (a worker, or the web process for a cancel or a delete).
* Embedded (no REDIS_URL, InMemoryChannelLayer): the in-memory layer only reaches consumers in
  its own process, so broadcast() does nothing. Instead a DatabaseRelay inside the web process
  polls the Dataset table (progress.py writes every update there anyway) through an indexed
  updated_at cursor and turns the changes it sees into the same messages. See "Live updates" in README.md.

broadcast() never raises: a broken live transport must not fail a download.
"""

import asyncio
import json
import logging
import time
import uuid
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync, sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.core.signals import setting_changed
from django.db import close_old_connections, transaction
from redis.asyncio import BlockingConnectionPool

logger = logging.getLogger(__name__)

ALL_DATASETS_GROUP = "datasets"
# One broadcast (connect, two group sends, close) may take this long; Redis on a LAN answers in
# about a millisecond, so this only matters when Redis hangs.
SEND_TIMEOUT = 2.0
# After a failed send, broadcasts are skipped this long, so a dead Redis costs a download one
# timeout every few seconds rather than one per progress update.
RETRY_AFTER = 5.0
# How often the embedded relay looks at the Dataset table while nothing changes: MAX(updated_at)
# from its index, a lookup as cheap as a query gets. The first change after a quiet spell
# arrives within 0.2 s, the ones after it within RELAY_BUSY_INTERVAL; idle, the polls cost the
# web process about half a percent of a core (bench `--only idle`).
RELAY_INTERVAL = 0.2
# While changes come (until LATE_COMMIT_WINDOW after the last one, when each poll reads the recent
# rows anyway), it looks twice as often: an update waits half as long for the next poll, and the
# cost only comes while something happens, never while the catalog is idle.
RELAY_BUSY_INTERVAL = 0.05
# How often it counts the rows to notice deleted ones (a count reads an index through).
RELAY_COUNT_EVERY = 1.0
# A row may commit this long after the updated_at it carries (the time is taken before the
# UPDATE, and the commit can wait on a lock); the relay looks this far back from the newest change.
LATE_COMMIT_WINDOW = 5.0

_retry_at = 0.0


# --- Group names ---------------------------------------------------------------------------


def dataset_group(dataset_id):
    """The group of one dataset's listeners, e.g. "dataset.0b5c...-...".

    Built from the dataset's UUID only, never from a repo id or a name (a repo id holds a '/',
    which Channels refuses in group names). Raises ValueError for anything that is not a UUID.
    """
    return f"dataset.{uuid.UUID(str(dataset_id))}"


def groups_for(dataset_id):
    """Every group an update about this dataset goes to."""
    return [ALL_DATASETS_GROUP, dataset_group(dataset_id)]


def event_message(event, state, previous_status=None, audience=None):
    """The channel-layer message for one update, ready for every socket that may hear it.

    The client's frame is encoded here, once per update, in its two versions: "text" as staff
    see it and "public_text" without server paths (permissions.without_server_paths). A
    consumer only picks one, so a burst to hundreds of sockets costs no serialization per socket
    (and the in-memory layer's copy per socket copies two strings, not a nested state).
    audience (permissions.audience()) lets each consumer decide who may hear it without a query.
    """
    from catalog.accounts import permissions

    frame = {"event": event, "dataset": state}
    if previous_status:
        # On status and deleted events when known: a list page that shows only one page of
        # datasets needs it to keep its per-status counts right for datasets it never saw.
        frame["previous_status"] = str(previous_status)
    public = dict(frame, dataset=permissions.without_server_paths(state))
    # "type" names the consumer method that handles it: dataset.event -> dataset_event().
    message = {"type": "dataset.event", "event": event, "id": str(state["id"])}
    message["text"], message["public_text"] = json.dumps(frame), json.dumps(public)
    if audience is not None:
        message["audience"] = audience
    return message


def uses_relay():
    """True on the embedded default, where the channel layer only lives inside one process."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


# --- The Redis layer -----------------------------------------------------------------------

# Redis connections one layer (one daphne process, one event loop) uses at most; more
# commands at once wait for a free connection.
REDIS_POOL_SIZE = 50
# How long a command waits for a free connection before it fails.
REDIS_POOL_WAIT = 30.0


class RedisChannelLayer(BaseRedisChannelLayer):
    """channels_redis's layer with a connection pool that makes a burst wait instead of fail.

    redis-py's asyncio ConnectionPool (redis >= 6) refuses a command with MaxConnectionsError
    once 100 connections are busy, and channels_redis runs every group_add on its own pooled
    connection. So when 200 sockets connected at once, about half the consumers crashed in
    group_add and got nothing. A BlockingConnectionPool queues them for a connection instead.
    """

    def create_pool(self, index):
        host = dict(self.hosts[index])
        if "master_name" in host:
            return super().create_pool(index)  # Sentinel keeps channels_redis's own pool.
        host.setdefault("max_connections", REDIS_POOL_SIZE)
        host.setdefault("timeout", REDIS_POOL_WAIT)
        if "address" in host:
            return BlockingConnectionPool.from_url(host.pop("address"), **host)
        return BlockingConnectionPool(**host)


# --- Sending (Redis) -----------------------------------------------------------------------


def broadcast(event, dataset_id, state, previous_status=None, audience=None):
    """Send one update to the dataset's group and to the all-datasets group. Never raises.

    Called synchronously (worker threads, sync views) by catalog.progress. Inside a transaction
    the send waits for the commit (and is dropped on rollback), so a page never shows a change
    that did not happen. It returns once Redis has the message, so updates from one caller
    arrive in the order they were made.
    """
    try:
        layer = get_channel_layer()
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return  # Embedded: the relay in the web process reads the change from the database.
        groups, message = groups_for(dataset_id), event_message(event, state, previous_status, audience)
        transaction.on_commit(lambda: _send_now(groups, message, event, dataset_id))
    except Exception as exc:
        logger.warning("Live update %r for dataset %s not sent (%s: %s)", event, dataset_id, type(exc).__name__, exc)


def _send_now(groups, message, event, dataset_id):
    global _retry_at
    if time.monotonic() < _retry_at:
        return  # Redis failed a moment ago; the database still has the progress.
    try:
        # force_new_loop: from a sync view under daphne, asgiref would otherwise run _send on the
        # server's long-lived loop, where channels_redis keeps a close hook (and so a reference)
        # for every layer instance that ever ran there. A fresh loop per call leaves nothing.
        async_to_sync(_send, force_new_loop=True)(groups, message)
    except Exception as exc:
        _retry_at = time.monotonic() + RETRY_AFTER
        logger.warning(
            "Live update %r for dataset %s not sent (%s: %s); live updates paused for %ss",
            event,
            dataset_id,
            type(exc).__name__,
            exc,
            RETRY_AFTER,
        )


async def _send(groups, message):
    # async_to_sync runs this on a new event loop each call, and channels_redis keeps a
    # connection pool per event loop: unless closed before the loop ends, every call would leave
    # a connection behind ("Event loop is closed", channels_redis #332). A layer instance of our
    # own per call means close_pools() closes only this call's connection, never the pools
    # that consumers in the same process are using.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            for group in groups:
                await layer.group_send(group, message)
    finally:
        async with asyncio.timeout(SEND_TIMEOUT):
            await layer.close_pools()


def _reset(setting, **kwargs):
    # A new layer configuration (tests switch layers) deserves a fresh try.
    global _retry_at
    if setting == "CHANNEL_LAYERS":
        _retry_at = 0.0


setting_changed.connect(_reset)


# --- Embedded relay ------------------------------------------------------------------------


async def start_listening(consumer):
    """A consumer is about to read its snapshot; on the embedded default, make sure the relay runs.

    Must be awaited after the consumer joined its groups and before it reads its snapshot, so no
    change falls between the two. Pair it with stop_listening(consumer).
    """
    if uses_relay():
        await _relay().attach(consumer)


def stop_listening(consumer):
    if uses_relay():
        _relay().detach(consumer)


_current_relay = None
_relay_executor = None


async def _in_relay_thread(func):
    """Run the relay's database work on a thread of its own, not on the web process's sync thread.

    Every sync view, socket handshake (session, user) and snapshot of the web process queues on
    that one thread: 200 sockets opening at once queue about half a second of work there, and a
    poll behind them delayed every update by as much. The relay's thread is idle between polls
    (its reads are one indexed lookup), so its updates wait for nothing but the CPU.

    The thread keeps its database connection from one poll to the next: closing it around every
    call (as database_sync_to_async does) would open a new one each poll under
    DATABASE_CONN_MAX_AGE=0 (the default), ten times the lookup's own CPU. The relay closes it
    after a failed poll and when it stops (close_old_connections, run here).
    """
    global _relay_executor
    if _relay_executor is None:
        _relay_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-relay")
    call = asyncio.ensure_future(sync_to_async(func, thread_sensitive=False, executor=_relay_executor)())
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        # The thread finishes the call anyway: wait for it, so no read outlives the event loop
        # that asked for it (a test's, or daphne's at exit).
        await asyncio.wait([call])
        raise


def _relay():
    """The relay of this process's event loop (daphne has one; each test has its own)."""
    global _current_relay
    loop = asyncio.get_running_loop()
    if _current_relay is None or _current_relay.loop is not loop:
        _current_relay = DatabaseRelay(loop)
    return _current_relay


class DatabaseRelay:
    """Turns changes in the Dataset table into live messages, inside the web process.

    Runs as one asyncio task while at least one consumer listens, and stops when the last one
    leaves. Listeners are held weakly, so a consumer that crashed without a disconnect does not
    keep the relay polling.

    It keeps (updated_at, status) of every row it knows, read once when it starts. Then every
    RELAY_INTERVAL (RELAY_BUSY_INTERVAL while changes come):

    1. One query, MAX(updated_at), answered from the updated_at index (and every
       RELAY_COUNT_EVERY seconds a COUNT(*)). Same answers as last time, and a read already ran
       more than LATE_COMMIT_WINDOW after the newest change (so any late commit of it was seen):
       nothing happened, and that lookup is all the poll costs.
    2. Otherwise it reads (id, updated_at, status) of the rows whose updated_at is later than
       LATE_COMMIT_WINDOW before its previous read (an indexed range: the few rows that changed
       lately), and compares each with what it knows: a new id is "created", a changed status
       is "status", any other change is "progress". Every row older than that had committed
       before the previous read, which saw it. Looking back a window, rather than only at rows
       newer than the last poll, catches a transaction that commits late with an older
       updated_at.
    3. Deleted rows leave no updated_at: when the count is not the rows it knows plus the new
       ones, it reads the ids (only then, so only after a delete) and reports the missing ones
       as "deleted", within RELAY_COUNT_EVERY. This needs no tombstone table and no hook in the code that deletes (a
       delete may come from another process, e.g. a management command).

    Transfer speed is estimated from the byte counts seen.
    """

    def __init__(self, loop):
        self.loop = loop
        self.listeners = weakref.WeakSet()
        self.task = None
        self.lock = asyncio.Lock()
        self.known = {}  # id -> (updated_at, status) as last sent
        self.audiences = {}  # id -> permissions.audience(), for the messages (a deletion's too)
        self.cursor = None  # the newest updated_at seen in a read of rows
        self.newest = None  # MAX(updated_at) at the last poll, as the database gave it
        self.count = None  # COUNT(*) at its last reading
        self.count_due = 0.0  # when (time.monotonic()) to count the rows again
        self.read_at = None  # when the last read of rows began (this process's clock)
        self.samples = {}  # id -> deque of (seconds, downloaded_bytes) while downloading
        self.failing = False
        self.stopping = False  # the task has left its polling loop: attach() starts a new one

    async def attach(self, consumer):
        async with self.lock:
            if self.task is None or self.task.done() or self.stopping:
                # The baseline is read before the consumer reads its snapshot, so a change made
                # between the two is sent (possibly twice, never lost).
                await _in_relay_thread(self.start)
                self.stopping = False
                self.task = self.loop.create_task(self.run())
            # Before the new task first runs (no await since create_task), so it sees a listener.
            self.listeners.add(consumer)

    def detach(self, consumer):
        self.listeners.discard(consumer)

    async def run(self):
        try:
            # Checked with no await between the check and setting self.stopping (first thing in
            # finally), so attach() either sees this task still polling or sees it stopping and starts a new one.
            while self.listeners:
                await asyncio.sleep(RELAY_INTERVAL if self.settled() else RELAY_BUSY_INTERVAL)
                try:
                    messages = await _in_relay_thread(self.messages)
                    layer = get_channel_layer()
                    for dataset_id, message in messages:
                        for group in groups_for(dataset_id):
                            await layer.group_send(group, message)
                    self.failing = False
                except Exception:
                    if not self.failing:  # Once per streak, not twice a second.
                        logger.exception("Live relay could not read the datasets; trying again")
                    self.failing = True
                    await _in_relay_thread(close_old_connections)  # a broken one is opened afresh next time
        finally:
            # No connection is held while nobody listens (nor after the loop is gone: a cancel
            # at its end lands here too).
            self.stopping = True
            await _in_relay_thread(close_old_connections)

    # --- Reading the table (sync: run through _in_relay_thread) -------------------------------

    def start(self):
        """Read the baseline: every row's (updated_at, status), once per start of the relay."""
        from django.utils import timezone

        from catalog.accounts import permissions
        from catalog.models import Dataset

        self.read_at = timezone.now()
        self.newest = self.read_newest()
        self.count = self.read_count()
        self.count_due = time.monotonic() + RELAY_COUNT_EVERY
        rows = Dataset.objects.order_by().values_list("pk", "updated_at", "status", "personal", "owner_id")
        self.known, self.audiences = {}, {}
        for pk, updated_at, status, personal, owner_id in rows:
            self.known[str(pk)] = (updated_at, status)
            self.audiences[str(pk)] = permissions.audience_of(personal, owner_id)
        self.cursor = max((updated_at for updated_at, _ in self.known.values()), default=None)
        self.samples = {}

    @staticmethod
    def read_newest():
        """MAX(updated_at) as the database gives it (compared with the last one, never parsed).

        One lookup in the updated_at index. Plain SQL: the ORM would cost ten times the query
        itself, and this runs ten times a second.
        """
        from django.db import connection

        from catalog.models import Dataset

        table, column = Dataset._meta.db_table, Dataset._meta.get_field("updated_at").column
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX({connection.ops.quote_name(column)}) FROM {connection.ops.quote_name(table)}")
            return cursor.fetchone()[0]

    @staticmethod
    def read_count():
        from catalog.models import Dataset

        return Dataset.objects.order_by().count()

    @staticmethod
    def rows(queryset):
        rows = queryset.order_by().values_list("pk", "updated_at", "status")
        return {str(pk): (updated_at, status) for pk, updated_at, status in rows}

    def settled(self):
        """True when a read began more than LATE_COMMIT_WINDOW after the newest change: it saw every late commit."""
        return self.cursor is None or (self.read_at - self.cursor).total_seconds() > LATE_COMMIT_WINDOW

    def messages(self):
        """[(dataset_id, channel-layer message)] of the changes since the last call."""
        out = []
        for event, pk, state, previous_status in self.changes():
            out.append((pk, event_message(event, state, previous_status, self.audiences.get(pk))))
            if event == "deleted":
                self.audiences.pop(pk, None)
        return out

    def changes(self):
        """[(event, dataset_id, state, previous_status)] since the last call; updates self.known."""
        from datetime import timedelta

        from django.utils import timezone

        from catalog.models import Dataset

        now = timezone.now()
        newest = self.read_newest()
        count = None
        if time.monotonic() >= self.count_due:
            count = self.read_count()
            self.count_due = time.monotonic() + RELAY_COUNT_EVERY
        if newest == self.newest and count in (None, self.count) and self.settled():
            return []
        self.newest = newest
        since = self.read_at - timedelta(seconds=LATE_COMMIT_WINDOW)
        self.read_at = now
        seen = self.rows(Dataset.objects.filter(updated_at__gt=since))
        gone = []
        if count is not None:
            self.count = count
            if count != len(self.known.keys() | seen.keys()):
                # Something was deleted (or created longer ago than the window): compare the ids.
                ids = {str(pk) for pk in Dataset.objects.order_by().values_list("pk", flat=True)}
                gone = [pk for pk in self.known if pk not in ids]
                missing = ids - self.known.keys() - seen.keys()
                if missing:
                    seen.update(self.rows(Dataset.objects.filter(pk__in=missing)))
        latest = [updated_at for updated_at, _ in seen.values()] + ([self.cursor] if self.cursor else [])
        self.cursor = max(latest, default=None)
        return self.report(seen, gone)

    def report(self, seen, gone):
        from catalog import progress
        from catalog.accounts import permissions
        from catalog.models import Dataset

        changed = [pk for pk, row in seen.items() if self.known.get(pk) != row]
        out = []
        if changed:
            for dataset in Dataset.objects.filter(pk__in=changed).defer("features", "column_stats"):
                pk = str(dataset.pk)
                before = self.known.get(pk)
                previous_status = None
                if before is None:
                    event = "created"
                elif before[1] != dataset.status:
                    event, previous_status = "status", before[1]
                else:
                    event = "progress"
                rate, eta = self.speed(pk, dataset)
                out.append((event, pk, progress.dataset_state(dataset, rate, eta), previous_status))
                # What was just sent, in case the row changed again since it was read.
                self.known[pk] = (dataset.updated_at, dataset.status)
                self.audiences[pk] = permissions.audience(dataset)
        for pk in gone:
            self.samples.pop(pk, None)
            before = self.known.pop(pk)
            out.append(("deleted", pk, {"id": pk}, before[1]))
        return out

    def speed(self, pk, dataset):
        """(bytes per second, eta seconds) over the last 5 s of samples, or (None, None)."""
        from catalog.models import Dataset

        if dataset.status != Dataset.Status.DOWNLOADING or dataset.updated_at is None:
            self.samples.pop(pk, None)
            return None, None
        now = dataset.updated_at.timestamp()
        samples = self.samples.setdefault(pk, deque())
        samples.append((now, dataset.downloaded_bytes))
        while now - samples[0][0] > 5.0:
            samples.popleft()
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        if t1 - t0 < 0.2 or b1 < b0:
            return None, None
        rate = (b1 - b0) / (t1 - t0)
        eta = round((dataset.total_bytes - b1) / rate, 1) if rate > 0 and dataset.total_bytes else None
        return round(rate), eta
