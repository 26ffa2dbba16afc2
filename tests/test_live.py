"""Live progress: group names, consumers over the real Redis channel layer, the sender's failure
handling, and the embedded database relay.

Async bodies run under async_to_sync; database work inside them goes through sync_to_async.
Waits are bounded by the communicator's receive timeouts or by deadlines, never by sleeping.
"""

import asyncio
import json
import logging
import threading
import time
import uuid

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog import consumers, live, progress, services
from catalog.accounts import permissions
from catalog.models import Dataset
from hfdatasets.asgi import application
from tests.processes import free_port

ORIGIN = "http://127.0.0.1"
S = Dataset.Status


# --- Fixtures and helpers -------------------------------------------------------------------


def redis_layers(hosts):
    return {
        "default": {
            "BACKEND": "catalog.live.RedisChannelLayer",
            "CONFIG": {"hosts": hosts, "prefix": f"hfd-live-test-{uuid.uuid4().hex[:12]}"},
        }
    }


@pytest.fixture
def redis_layer(settings, redis_url):
    """The real Redis channel layer with a prefix of our own (even when the suite runs without REDIS_URL)."""
    settings.CHANNEL_LAYERS = redis_layers([redis_url])
    yield
    async_to_sync(channel_layers.make_backend("default").flush)()  # flush() also closes its pools


@pytest.fixture
def memory_layer(settings):
    """The embedded default: an in-process layer fed by the database relay."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def session_headers(transactional_db, user):
    """Headers of a logged-in browser on this site."""
    client = Client()
    client.force_login(user)
    return [
        (b"origin", ORIGIN.encode()),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


def run(coroutine_function):
    """Run an async test body on a fresh event loop."""
    async_to_sync(coroutine_function)()


async def connect(path, headers):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected, f"{path} refused"
    return communicator


async def next_event(communicator, timeout=5):
    return await communicator.receive_json_from(timeout=timeout)


def prepare_download(dataset_id, total_bytes, run_id="run-1"):
    """Give a pending record its plan the way a worker would, then start it through services."""
    Dataset.objects.filter(pk=dataset_id).update(total_bytes=total_bytes, run_id=run_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    services.transition(dataset, S.DOWNLOADING)
    return dataset


def request():
    dataset, created = services.request_download("acme/multi", split="train")
    assert created
    return dataset


# --- Group names ----------------------------------------------------------------------------


def test_group_names_are_valid_and_never_hold_a_repo_id(make_dataset):
    layer = InMemoryChannelLayer()
    dataset = make_dataset(repo_id="acme/multi", name="acme/multi train")
    names = live.groups_for(dataset.pk)
    assert names == [live.ALL_DATASETS_GROUP, f"dataset.{dataset.pk}"]
    assert live.groups_for(str(dataset.pk)) == names  # UUID or its text: the same group
    for name in names:
        assert layer.require_valid_group_name(name)
        assert len(name) < 100
        assert "/" not in name
    for not_an_id in ("acme/multi", "acme/multi train", "", "../x", "1" * 200):
        with pytest.raises(ValueError):
            live.dataset_group(not_an_id)


# --- Refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/datasets/", f"/ws/datasets/{uuid.uuid4()}/"])
def test_anonymous_socket_is_refused(redis_layer, transactional_db, path):
    async def body():
        communicator = WebsocketCommunicator(application, path, headers=[(b"origin", ORIGIN.encode())])
        connected, _ = await communicator.connect(timeout=5)
        assert not connected

    run(body)


@pytest.mark.parametrize("origin", [b"http://evil.example", b"https://127.0.0.1.evil.example", None])
def test_foreign_origin_is_refused(redis_layer, session_headers, origin):
    cookie = [h for h in session_headers if h[0] == b"cookie"]
    headers = cookie + ([(b"origin", origin)] if origin else [])

    async def body():
        communicator = WebsocketCommunicator(application, "/ws/datasets/", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert not connected
        # The same session from the site's own origin is let in.
        communicator = await connect("/ws/datasets/", session_headers)
        await communicator.disconnect()

    run(body)


# --- Snapshot on connect --------------------------------------------------------------------


def test_snapshot_on_connect(redis_layer, session_headers, make_dataset):
    older = make_dataset(name="older", status=S.READY, total_bytes=100, downloaded_bytes=100, total_samples=7)
    newer = make_dataset(name="newer", status=S.DOWNLOADING, total_bytes=1000, downloaded_bytes=250)
    expected = {str(d.pk): progress.dataset_state(Dataset.objects.get(pk=d.pk)) for d in (older, newer)}

    async def body():
        everything = await connect("/ws/datasets/", session_headers)
        first, second = await next_event(everything), await next_event(everything)
        assert [first["event"], second["event"]] == ["snapshot", "snapshot"]
        assert [first["dataset"], second["dataset"]] == [expected[str(newer.pk)], expected[str(older.pk)]]
        assert second["dataset"]["progress_percent"] == 100.0 and first["dataset"]["progress_percent"] == 25.0
        assert await everything.receive_nothing(timeout=0.2)

        one = await connect(f"/ws/datasets/{newer.pk}/", session_headers)
        assert await next_event(one) == {"event": "snapshot", "dataset": expected[str(newer.pk)]}

        missing = WebsocketCommunicator(application, f"/ws/datasets/{uuid.uuid4()}/", headers=session_headers)
        connected, _ = await missing.connect(timeout=5)
        assert connected  # accepted, so that the close code reaches the browser
        assert await missing.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
        for communicator in (everything, one, missing):
            await communicator.disconnect()

    run(body)


def test_list_snapshot_is_the_page_the_client_shows(redis_layer, session_headers, make_dataset):
    for i in range(30):
        make_dataset(name=f"set-{i:02}", status=S.READY if i % 2 else S.FAILED)

    async def body():
        first_page = await connect("/ws/datasets/", session_headers)
        states = [(await next_event(first_page))["dataset"] for _ in range(25)]
        assert await first_page.receive_nothing(timeout=0.2)  # the first page (25), not all 30
        assert [s["name"] for s in states] == [f"set-{i:02}" for i in range(29, 4, -1)]

        filtered = await connect("/ws/datasets/?status=ready&ordering=name&page=2&page_size=5", session_headers)
        states = [(await next_event(filtered))["dataset"] for _ in range(5)]
        assert await filtered.receive_nothing(timeout=0.2)
        assert [s["name"] for s in states] == [f"set-{i:02}" for i in range(11, 21, 2)]
        for communicator in (first_page, filtered):
            await communicator.disconnect()

    run(body)


# --- Events through the real code paths -----------------------------------------------------


def test_progress_status_and_delete_arrive_in_order(redis_layer, session_headers):
    async def body():
        everything = await connect("/ws/datasets/", session_headers)
        dataset = await sync_to_async(request)()
        created = await next_event(everything)
        assert created["event"] == "created"
        assert created["dataset"]["id"] == str(dataset.pk) and created["dataset"]["status"] == "pending"
        assert created["dataset"]["repo_id"] == "acme/multi" and created["dataset"]["split"] == "train"

        one = await connect(f"/ws/datasets/{dataset.pk}/", session_headers)
        assert (await next_event(one))["event"] == "snapshot"

        dataset = await sync_to_async(prepare_download)(dataset.pk, total_bytes=1000)
        reporter = progress.ProgressReporter(dataset, "run-1", interval=0)
        await sync_to_async(reporter.add)(400)
        await sync_to_async(reporter.add)(600)
        await sync_to_async(services.transition)(dataset, S.PROCESSING)
        await sync_to_async(services.transition)(dataset, S.READY, total_samples=20000)
        await sync_to_async(services.delete)(dataset)

        # Status events say which status they leave (a list page that never saw the dataset needs it).
        expected = [
            ("status", "downloading", 0, "pending"),
            ("progress", "downloading", 400, None),
            ("progress", "downloading", 1000, None),
            ("status", "processing", 1000, "downloading"),
            ("status", "ready", 1000, "processing"),
        ]
        for communicator in (everything, one):
            got = []
            for _ in expected:
                message = await next_event(communicator)
                dataset_state = message["dataset"]
                got.append(
                    (
                        message["event"],
                        dataset_state["status"],
                        dataset_state["downloaded_bytes"],
                        message.get("previous_status"),
                    )
                )
            assert got == expected
            assert await next_event(communicator) == {
                "event": "deleted",
                "dataset": {"id": str(dataset.pk)},
                "previous_status": "ready",
            }
            assert await communicator.receive_nothing(timeout=0.2)
            await communicator.disconnect()

    run(body)


def test_debounce_bounds_messages_of_a_fast_download(redis_layer, session_headers, settings):
    settings.HFD_PROGRESS_INTERVAL = 0.3
    chunk = 1000

    def download():
        # add() in a tight loop: at least 10,000 calls, and for at least a second, so that the
        # interval (not just the first flush) is what limits the messages.
        dataset = prepare_download(request().pk, total_bytes=10**12)
        reporter = progress.ProgressReporter(dataset, "run-1")
        calls, started = 0, time.monotonic()
        while calls < 10_000 or time.monotonic() - started < 1.0:
            reporter.add(chunk)
            calls += 1
        reporter.flush()  # a download flushes once more when it ends
        return calls, reporter.done, time.monotonic() - started

    async def body():
        everything = await connect("/ws/datasets/", session_headers)
        calls, done, elapsed = await sync_to_async(download)()
        updates = []
        while not updates or updates[-1]["dataset"]["downloaded_bytes"] < done:
            message = await next_event(everything)
            if message["event"] == "progress":
                updates.append(message)
        # The end's explicit flush repeats the last count if the last add() had just flushed it.
        if not await everything.receive_nothing(timeout=0.3):
            repeat = await next_event(everything)
            assert (repeat["event"], repeat["dataset"]["downloaded_bytes"]) == ("progress", done)
            assert await everything.receive_nothing(timeout=0.3)
        await everything.disconnect()
        # One flush at the first add(), one per interval after it, one at the end.
        assert len(updates) <= 2 + int(elapsed / settings.HFD_PROGRESS_INTERVAL), (len(updates), elapsed)
        assert len(updates) < 15, f"{len(updates)} messages for {calls} add() calls in {elapsed:.2f}s"
        sizes = [m["dataset"]["downloaded_bytes"] for m in updates]
        assert sizes == sorted(sizes)
        assert updates[-1]["dataset"]["bytes_per_second"] > 0

    run(body)


# --- The sender -----------------------------------------------------------------------------


def test_broadcast_with_redis_unreachable_logs_and_goes_on(settings, transactional_db, make_dataset, caplog):
    closed_port = free_port()  # nothing listens there any more
    settings.CHANNEL_LAYERS = redis_layers([f"redis://127.0.0.1:{closed_port}/0"])
    dataset = make_dataset(status=S.DOWNLOADING, total_bytes=1000, run_id="run-1")
    reporter = progress.ProgressReporter(dataset, "run-1", interval=0)

    with caplog.at_level(logging.WARNING, logger="catalog.live"):
        started = time.monotonic()
        reporter.add(300)  # flushes and broadcasts: must not raise
        reporter.add(300)  # within the pause: not even tried
        services.cancel(Dataset.objects.get(pk=dataset.pk))  # a status change must not raise either
        elapsed = time.monotonic() - started

    assert Dataset.objects.get(pk=dataset.pk).downloaded_bytes == 600
    assert Dataset.objects.get(pk=dataset.pk).status == S.CANCELLED
    warnings = [r for r in caplog.records if r.name == "catalog.live"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "not sent" in warnings[0].getMessage() and str(dataset.pk) in warnings[0].getMessage()
    assert elapsed < live.SEND_TIMEOUT


def test_broadcast_leaves_no_connection_or_thread_behind(settings, transactional_db, make_dataset, redis_url):
    """Each broadcast runs on its own event loop; its Redis connection must be closed with it."""
    name = f"hfd-live-test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = redis_layers([{"address": redis_url, "client_name": name}])
    # A listener on the same prefix, with connections not named like the sender's.
    receiver = RedisChannelLayer(hosts=[redis_url], prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"])
    dataset = make_dataset()
    state = progress.dataset_state(dataset)
    client = redis.Redis.from_url(redis_url)

    def send_many():
        live.broadcast("progress", dataset.pk, state)  # warm up imports and thread pools
        threads = threading.active_count()
        for _ in range(30):
            live.broadcast("progress", dataset.pk, state)
        return threads, threading.active_count()

    async def body():
        channel = await receiver.new_channel()
        await receiver.group_add(live.ALL_DATASETS_GROUP, channel)
        before, after = await sync_to_async(send_many)()
        assert after <= before + 1
        for _ in range(31):  # every send arrived
            message = await asyncio.wait_for(receiver.receive(channel), timeout=5)
            assert json.loads(message["text"])["dataset"] == state
        await receiver.flush()

    try:
        run(body)
        assert [c for c in client.client_list() if c.get("name") == name] == []
    finally:
        client.close()


def test_broadcast_waits_for_the_commit(redis_layer, transactional_db, make_dataset, monkeypatch):
    sent = []

    async def record(groups, message):
        sent.append(message["event"])

    monkeypatch.setattr(live, "_send", record)
    dataset = make_dataset()
    with transaction.atomic():
        live.broadcast("status", dataset.pk, progress.dataset_state(dataset))
        assert sent == []  # not committed yet
    assert sent == ["status"]
    with pytest.raises(RuntimeError), transaction.atomic():
        live.broadcast("progress", dataset.pk, progress.dataset_state(dataset))
        raise RuntimeError("rolled back")
    assert sent == ["status"]


# --- The embedded relay ---------------------------------------------------------------------


def test_relay_carries_database_changes_on_the_embedded_layer(memory_layer, session_headers):
    async def expect(communicator, event, **fields):
        message = await next_event(communicator)
        assert message["event"] == event, message
        for key, value in fields.items():
            assert message["dataset"][key] == value, message
        return message

    async def body():
        everything = await connect("/ws/datasets/", session_headers)
        relay = live._relay()
        assert len(relay.listeners) == 1 and not relay.task.done()

        # Each change is awaited before the next: the relay reports what it sees every half second.
        dataset = await sync_to_async(request)()
        await expect(everything, "created", id=str(dataset.pk), status="pending")
        one = await connect(f"/ws/datasets/{dataset.pk}/", session_headers)
        await expect(one, "snapshot", status="pending")
        assert len(relay.listeners) == 2

        dataset = await sync_to_async(prepare_download)(dataset.pk, total_bytes=1000)
        for communicator in (everything, one):
            await expect(communicator, "status", status="downloading")
        reporter = progress.ProgressReporter(dataset, "run-1", interval=0)
        await sync_to_async(reporter.add)(400)
        for communicator in (everything, one):
            await expect(communicator, "progress", downloaded_bytes=400, progress_percent=40.0)
        await sync_to_async(services.cancel)(dataset)
        for communicator in (everything, one):
            await expect(communicator, "status", status="cancelled")
        await sync_to_async(services.delete)(dataset)
        for communicator in (everything, one):
            await expect(communicator, "deleted", id=str(dataset.pk))

        await one.disconnect()
        await everything.disconnect()
        # Nobody listens: the relay stops polling.
        deadline = time.monotonic() + 5
        while not relay.task.done():
            assert time.monotonic() < deadline, "relay still running"
            await asyncio.sleep(0.05)
        assert len(relay.listeners) == 0

    run(body)


def test_relay_stops_when_its_listeners_are_gone(memory_layer, transactional_db):
    class Listener:
        pass

    async def body():
        relay = live._relay()
        listener = Listener()
        await relay.attach(listener)
        task = relay.task
        assert not task.done()
        del listener  # a consumer that crashed and never detached
        deadline = time.monotonic() + 5
        while not task.done():
            assert time.monotonic() < deadline, "relay still running"
            await asyncio.sleep(0.05)

    run(body)


def quiet_relay(count):
    """A started relay over `count` rows last changed a minute ago (longer ago than the late-commit window)."""
    from datetime import timedelta

    from django.utils import timezone

    Dataset.objects.bulk_create(Dataset(name=f"set-{i}", repo_id=f"acme/set-{i}") for i in range(count))
    Dataset.objects.update(updated_at=timezone.now() - timedelta(minutes=1))
    relay = live.DatabaseRelay(loop=None)
    relay.start()
    return relay


def rows_read(relay, monkeypatch):
    """The sizes of the (id, updated_at, status) reads the relay makes."""
    sizes, read = [], relay.rows

    def counting(queryset):
        rows = read(queryset)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(relay, "rows", counting)
    return sizes


def test_idle_relay_makes_one_indexed_lookup_per_poll(db, django_assert_num_queries, monkeypatch):
    relay = quiet_relay(300)
    for _ in range(3):
        with django_assert_num_queries(1) as queries:
            assert relay.changes() == []
        assert "MAX" in queries[0]["sql"].upper() and "COUNT" not in queries[0]["sql"].upper()
    # And a count (for deleted rows) when one is due, still nothing else.
    relay.count_due = 0
    with django_assert_num_queries(2):
        assert relay.changes() == []


def test_relay_reads_only_the_rows_that_changed(db, monkeypatch, django_assert_num_queries):
    from django.utils import timezone

    relay = quiet_relay(300)
    sizes = rows_read(relay, monkeypatch)
    dataset = Dataset.objects.order_by("name")[0]
    Dataset.objects.filter(pk=dataset.pk).update(status=S.DOWNLOADING, downloaded_bytes=10, updated_at=timezone.now())
    # The newest updated_at, the recent rows (by the updated_at index), the changed row's state.
    with django_assert_num_queries(3):
        changes = relay.changes()
    assert sizes == [1]
    assert [(event, pk, state["status"], previous) for event, pk, state, previous in changes] == [
        ("status", str(dataset.pk), "downloading", "pending")
    ]
    # Right after a change the window is re-read (a late commit may still land), but nothing is sent twice.
    assert relay.changes() == []


def test_relay_sees_a_late_commit_with_an_older_updated_at(db):
    from datetime import timedelta

    from django.utils import timezone

    relay = quiet_relay(5)
    first, late = Dataset.objects.order_by("name")[:2]
    now = timezone.now()
    Dataset.objects.filter(pk=first.pk).update(downloaded_bytes=1, updated_at=now)
    assert [pk for _, pk, _, _ in relay.changes()] == [str(first.pk)]
    # A transaction that took its time before committing: older than the newest change the relay saw.
    Dataset.objects.filter(pk=late.pk).update(status=S.FAILED, updated_at=now - timedelta(seconds=2))
    assert [(event, pk) for event, pk, _, _ in relay.changes()] == [("status", str(late.pk))]


def test_relay_reports_deleted_rows_and_creations(db, monkeypatch):
    monkeypatch.setattr(live, "RELAY_COUNT_EVERY", 0)  # count at every poll
    relay = quiet_relay(5)
    doomed = Dataset.objects.order_by("name")[0]
    Dataset.objects.filter(pk=doomed.pk).delete()  # as another process would: no hook, no tombstone
    assert relay.changes() == [("deleted", str(doomed.pk), {"id": str(doomed.pk)}, "pending")]
    # A delete and a create in the same poll: the count alone would not change.
    other = Dataset.objects.order_by("name")[0]
    Dataset.objects.filter(pk=other.pk).delete()
    new = Dataset.objects.create(name="new", repo_id="acme/new")
    assert sorted((event, pk) for event, pk, _, _ in relay.changes()) == sorted(
        [("created", str(new.pk)), ("deleted", str(other.pk))]
    )
    assert relay.changes() == []


def test_relay_estimates_speed_from_the_byte_counts(make_dataset):
    from datetime import timedelta

    from django.utils import timezone

    dataset = make_dataset(status=S.DOWNLOADING, total_bytes=10_000)
    relay = live.DatabaseRelay(loop=None)
    start = timezone.now()
    for seconds, done in ((0, 0), (1, 1000), (2, 2000)):
        dataset.updated_at, dataset.downloaded_bytes = start + timedelta(seconds=seconds), done
        rate, eta = relay.speed(str(dataset.pk), dataset)
    assert (rate, eta) == (1000, 8.0)
    dataset.status = S.PROCESSING
    assert relay.speed(str(dataset.pk), dataset) == (None, None)


def broadcast_sends(monkeypatch, django_capture_on_commit_callbacks, dataset):
    """What broadcast() hands to the sender for one update (the sender itself is replaced)."""
    sent = []
    monkeypatch.setattr(live, "_send_now", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        live.broadcast("status", dataset.pk, progress.dataset_state(dataset))
    return sent


def test_broadcast_does_nothing_on_the_embedded_layer(
    memory_layer, make_dataset, monkeypatch, django_capture_on_commit_callbacks
):
    assert broadcast_sends(monkeypatch, django_capture_on_commit_callbacks, make_dataset()) == []


def test_broadcast_sends_on_a_redis_layer(settings, make_dataset, monkeypatch, django_capture_on_commit_callbacks):
    # The counterpart of the test above, so that it can fail: the same call does send over Redis.
    settings.CHANNEL_LAYERS = redis_layers(["redis://127.0.0.1:1/0"])  # never contacted: the sender is replaced
    dataset = make_dataset()
    sent = broadcast_sends(monkeypatch, django_capture_on_commit_callbacks, dataset)
    assert [(groups, message["event"]) for groups, message, *_ in sent] == [(live.groups_for(dataset.pk), "status")]


def test_redis_tests_skip_outside_ci_and_fail_under_ci(monkeypatch):
    from tests.fixtures import require_redis

    nobody = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"Redis is not reachable at {nobody}"):
        require_redis(nobody)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI"):
        require_redis(nobody)


def test_with_redis_unreachable_a_socket_is_closed_saying_live_updates_are_paused(settings, session_headers):
    settings.CHANNEL_LAYERS = redis_layers([f"redis://127.0.0.1:{free_port()}/0"])

    async def body():
        communicator = WebsocketCommunicator(application, "/ws/datasets/", headers=session_headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        closed = await communicator.receive_output(timeout=10)
        assert closed == {"type": "websocket.close", "code": consumers.CLOSE_LIVE_PAUSED}

    run(body)


# --- Many sockets at once ------------------------------------------------------------------

CROWD = 200


async def crowd_connect(headers, count):
    communicators = [WebsocketCommunicator(application, "/ws/datasets/", headers=headers) for _ in range(count)]
    results = await asyncio.gather(*(c.connect(timeout=60) for c in communicators))
    assert all(connected for connected, _ in results)
    return communicators


def test_an_update_reaches_every_socket_without_a_query(redis_layer, session_headers, make_dataset):
    # Who may hear it and the frame to send travel in the message: hundreds of sockets cost no
    # lookup or encoding each (issue 13, sockets at once).
    dataset = make_dataset()

    async def body():
        sockets = [await connect("/ws/datasets/", session_headers) for _ in range(3)]
        for communicator in sockets:
            assert (await next_event(communicator))["event"] == "snapshot"
        state = await sync_to_async(progress.dataset_state)(dataset)
        message = live.event_message("status", state, "pending", permissions.audience(dataset))
        before = len(queries)
        await get_channel_layer().group_send(live.ALL_DATASETS_GROUP, message)
        for communicator in sockets:
            got = await next_event(communicator)
            assert got == {"event": "status", "dataset": state, "previous_status": "pending"}
        assert queries.captured_queries[before:] == []
        for communicator in sockets:
            await communicator.disconnect()

    # The consumers' database work runs on this thread (sync_to_async under async_to_sync): its
    # own connection, not the proxy, which would name another one inside the event loop.
    with CaptureQueriesContext(connections["default"]) as queries:
        run(body)
    assert len(queries) > 0  # the connects and snapshots were seen: the capture works


async def status_arrives(communicator, status, timeout=30):
    """Read a socket's messages until the status event `status`; snapshots and progress are skipped."""
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["event"] == "status" and message["dataset"]["status"] == status:
            return status


@pytest.fixture(params=["redis_layer", "memory_layer"])
def either_layer(request):
    request.getfixturevalue(request.param)


def test_a_crowd_connecting_at_once_gets_every_status_change(either_layer, session_headers):
    async def body():
        dataset = await sync_to_async(request)()
        # All at once, while the dataset changes: the first change lands during the connects.
        connecting = asyncio.ensure_future(crowd_connect(session_headers, CROWD))
        await asyncio.sleep(0)
        dataset = await sync_to_async(prepare_download)(dataset.pk, total_bytes=1000)
        crowd = await connecting
        # Each change reaches every socket before the next is made (the embedded relay reports the
        # state it sees each poll, so a status shorter than a poll may be skipped; see README).
        for status in (S.PROCESSING, S.READY):
            await sync_to_async(services.transition)(dataset, status)
            results = await asyncio.gather(*(status_arrives(c, status) for c in crowd), return_exceptions=True)
            lost = [r for r in results if isinstance(r, BaseException)]
            assert not lost, f"{len(lost)} of {CROWD} sockets missed the change to {status}"
        await asyncio.gather(*(c.disconnect() for c in crowd))

    run(body)
