"""Sockets: many clients connecting to ws/datasets/ at once, on the embedded layer and on Redis."""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.harness import Figure, Sample, value_below, value_equal

ORIGIN = "http://127.0.0.1"


def _p95(values):
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else float("inf")


async def _crowd(headers, count, timeout):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.db import connections

    from catalog import services
    from catalog.models import Dataset
    from hfdatasets.asgi import application

    S = Dataset.Status

    def create():
        dataset, _ = services.request_download(f"bench/live-{uuid.uuid4().hex[:8]}", split="train", queue=False)
        return dataset

    def change(dataset, status, **fields):
        if status == S.DOWNLOADING:
            Dataset.objects.filter(pk=dataset.pk).update(total_bytes=1000, run_id="bench")
            dataset = Dataset.objects.get(pk=dataset.pk)
        return services.transition(dataset, status, **fields)

    # The changes come from a thread of their own, as a worker's come from another process: on
    # the server's sync thread they would queue behind the handshakes and snapshots of the 200
    # sockets (server work a worker never waits for), and that wait would count as delivery delay.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-worker")

    def in_worker(func, *args):
        return sync_to_async(func, thread_sensitive=False, executor=worker)(*args)

    dataset = await in_worker(create)
    changed_at = {}
    communicators = [WebsocketCommunicator(application, "/ws/datasets/", headers=headers) for _ in range(count)]
    connecting = asyncio.ensure_future(
        asyncio.gather(*(c.connect(timeout=timeout) for c in communicators), return_exceptions=True)
    )
    await asyncio.sleep(0)
    changed_at["downloading"] = time.monotonic()
    dataset = await in_worker(change, dataset, S.DOWNLOADING)
    results = await connecting
    # A socket whose handshake failed or timed out counts as one that missed every change.
    connected = [c for c, result in zip(communicators, results) if not isinstance(result, BaseException) and result[0]]

    async def listen(communicator):
        got = {}
        try:
            while "ready" not in got:
                message = await communicator.receive_json_from(timeout=timeout)
                if message["event"] == "status":
                    got.setdefault(message["dataset"]["status"], time.monotonic())
        except (TimeoutError, AssertionError):
            pass
        return got

    listeners = [asyncio.ensure_future(listen(c)) for c in connected]
    for status in (S.PROCESSING, S.READY):
        await asyncio.sleep(0.5)  # changes a worker makes are seconds apart; a new one starts a fresh count
        changed_at[str(status)] = time.monotonic()
        dataset = await in_worker(change, dataset, status)
    received = await asyncio.gather(*listeners)
    await asyncio.gather(*(c.disconnect() for c in connected), return_exceptions=True)
    await in_worker(connections.close_all)
    worker.shutdown()
    lost = count - len(connected) + sum(1 for got in received if not {"processing", "ready"} <= got.keys())
    delays = [got[s] - changed_at[s] for got in received for s in ("processing", "ready") if s in got]
    return lost, delays


def sockets_at_once(count, layers, repeat=3, timeout=20.0):
    """[Figure]: sockets that missed a status change (all rounds), and the p95 delay of each round, per layer."""
    from asgiref.sync import async_to_sync
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from bench import _setup

    client = Client()
    client.force_login(get_user_model().objects.create_user(f"bench-live-{uuid.uuid4().hex[:6]}"))
    headers = [
        (b"origin", ORIGIN.encode()),
        (b"host", ORIGIN.split("://")[1].encode()),  # the Origin check compares the two (catalog.routing)
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    configs = {"embedded": {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}}
    notes = []
    if "redis" in layers:
        import redis

        try:
            redis.Redis.from_url(_setup.REDIS_URL, socket_connect_timeout=2).ping()
            configs["Redis"] = {
                "default": {
                    "BACKEND": "catalog.live.RedisChannelLayer",
                    "CONFIG": {"hosts": [_setup.REDIS_URL], "prefix": f"hfd-bench-{uuid.uuid4().hex[:10]}"},
                }
            }
        except redis.exceptions.RedisError as exc:
            notes.append(f"Redis at {_setup.REDIS_URL} not reachable ({type(exc).__name__}): Redis not measured")
    figures = []
    for name, config in configs.items():
        lost, p95s, deliveries = 0, [], 0
        for _ in range(repeat):  # a fresh crowd of `count` sockets each round
            with override_settings(CHANNEL_LAYERS=config):
                round_lost, delays = async_to_sync(_crowd)(headers, count, timeout)
            lost += round_lost
            p95s.append(_p95(delays))
            deliveries += len(delays)
        label, check = value_equal(0)
        figures.append(
            Figure(
                f"{count} sockets at once, {name}: missed a status, {repeat} rounds",
                Sample([lost], ""),
                None,
                label,
                check,
            )
        )
        label, check = value_below(0.25, "s")
        figures.append(
            Figure(
                f"{count} sockets at once, {name}: p95 delay",
                Sample(p95s),
                None,
                label,
                check,
                [
                    f"p95 of each of {repeat} rounds, {deliveries} deliveries in all; in-process sockets "
                    "(channels' WebsocketCommunicator), change to receipt"
                ],
            )
        )
    if figures and notes:
        figures[0].notes.extend(notes)
    return figures
