"""Exact recovery: a lost task or run is re-queued once; a waiting or running one is left alone."""

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signing import SignedPackage

from catalog import pipeline, services, taskqueue, workers
from catalog.models import Dataset, Worker
from tests.fakehub import repos

pytestmark = pytest.mark.django_db(transaction=True)

S = Dataset.Status


@pytest.fixture
def dead_process():
    """The identity of a local process that has ended."""
    process = subprocess.Popen(["sleep", "60"])
    identity = workers.identity(process.pid)
    process.kill()
    process.wait()
    return identity


def queued(broker):
    return [taskqueue.task_of(payload) for payload in broker.queued_payloads()]


def request(repo_id=repos.JSONL):
    dataset, _ = services.request_download(repo_id, split="train")
    return Dataset.objects.get(pk=dataset.pk)


def age(dataset, seconds=60):
    """Make the dataset look queued (and last beaten) `seconds` ago."""
    past = timezone.now() - timedelta(seconds=seconds)
    Dataset.objects.filter(pk=dataset.pk).update(queued_at=past, heartbeat_at=past, updated_at=past)
    return Dataset.objects.get(pk=dataset.pk)


def recover(broker, sure=True):
    return services.recover_lost(broker.queued_tokens(), sure)


def test_a_task_waiting_in_the_broker_is_never_queued_again(broker):
    dataset = age(request())
    assert queued(broker) == [(str(dataset.pk), dataset.task_token)]
    assert recover(broker) == []
    assert recover(broker) == []
    assert len(queued(broker)) == 1


def test_a_task_the_broker_lost_is_queued_once(broker):
    dataset = age(request())
    broker.purge_queue()
    assert recover(broker) == [dataset.pk]
    dataset.refresh_from_db()
    assert queued(broker) == [(str(dataset.pk), dataset.task_token)]
    # Now it waits in the broker: the next passes leave it alone.
    assert recover(broker) == []
    assert len(queued(broker)) == 1


def test_a_just_queued_task_gets_a_moment_to_reach_the_broker(broker):
    request()
    broker.purge_queue()
    assert recover(broker) == []


def test_without_a_broker_listing_nothing_is_judged_lost(broker):
    age(request())
    broker.purge_queue()
    assert services.recover_lost(None, True) == []


def test_a_task_held_by_a_dead_worker_is_queued_again_at_once(broker, dead_process):
    dataset = request()
    broker.purge_queue()
    assert services.accept_task(dataset.pk, dataset.task_token, dead_process)
    assert recover(broker, sure=False) == [dataset.pk]
    assert len(queued(broker)) == 1


def test_a_task_held_by_a_live_worker_waits(broker):
    dataset = age(request())
    broker.purge_queue()
    assert services.accept_task(dataset.pk, dataset.task_token, workers.identity())
    assert recover(broker) == []


def test_a_task_held_on_another_machine_is_lost_when_its_heartbeat_is_old(broker, settings):
    dataset = age(request())
    broker.purge_queue()
    elsewhere = "other-host|boot|42|123"
    services.accept_task(dataset.pk, dataset.task_token, elsewhere)
    Worker.objects.create(identity=elsewhere, host="other-host", pid=42, beat_at=timezone.now())
    assert recover(broker) == []
    Worker.objects.filter(identity=elsewhere).update(beat_at=timezone.now() - timedelta(seconds=60))
    # Not while this worker has not been connected long enough to trust what it sees.
    assert recover(broker, sure=False) == []
    assert recover(broker) == [dataset.pk]


def test_a_run_of_a_dead_worker_is_queued_again_at_once(broker, dead_process):
    dataset = request()
    broker.purge_queue()
    services.claim(dataset.pk, task_token=dataset.task_token)
    Dataset.objects.filter(pk=dataset.pk).update(task_holder=dead_process)
    assert recover(broker, sure=False) == [dataset.pk]
    dataset.refresh_from_db()
    assert (dataset.status, dataset.run_id) == (S.PENDING, dataset.run_id)
    assert len(queued(broker)) == 1


def test_a_live_run_is_left_alone(broker):
    dataset = request()
    services.claim(dataset.pk, task_token=dataset.task_token)
    assert recover(broker) == []


def test_a_hung_run_is_queued_again_after_the_stale_heartbeat_time(broker, settings):
    settings.HFD_HEARTBEAT_STALE_SECONDS = 30
    dataset = request()
    broker.purge_queue()
    services.claim(dataset.pk, task_token=dataset.task_token)
    age(dataset, seconds=10)
    assert recover(broker) == []
    age(dataset, seconds=31)
    assert recover(broker) == [dataset.pk]


def test_a_stale_task_is_dropped_when_taken_and_cannot_claim(broker, dead_process):
    dataset = age(request())
    old_payload = broker.queued_payloads()[0]
    old_token = dataset.task_token
    broker.purge_queue()
    services.recover_lost(set(), True)
    dataset.refresh_from_db()
    assert dataset.task_token != old_token
    # The old task turns up after all (a worker that was thought dead): it is dropped, and could not claim.
    assert not broker._accept(None, old_payload)
    assert pipeline.run_download(dataset.pk, task_token=old_token) is None
    assert broker._accept(None, broker.queued_payloads()[0])
    assert Dataset.objects.get(pk=dataset.pk).task_holder == workers.identity()


def test_tasks_that_are_not_ours_pass_through(broker):
    payload = SignedPackage.dumps({"func": "math.floor", "args": (1.5,), "kwargs": {}})
    assert broker._accept(None, payload)


def test_retry_and_cancel_leave_one_task_in_the_queue(broker):
    dataset = request()
    services.cancel(dataset)
    services.retry(Dataset.objects.get(pk=dataset.pk))
    dataset.refresh_from_db()
    tokens = [token for _pk, token in queued(broker)]
    # The first task is still in the broker but stale: dropped when taken.
    assert tokens[-1] == dataset.task_token
    assert [broker._accept(None, p) for p in broker.queued_payloads()] == [False, True]


def test_the_worker_process_starting_a_task_holds_it(broker, dead_process):
    dataset = request()
    services.accept_task(dataset.pk, dataset.task_token, dead_process)  # the queue reader took it, then died
    payload = SignedPackage.loads(broker.queued_payloads()[0])
    taskqueue.note_task_start(payload)
    assert Dataset.objects.get(pk=dataset.pk).task_holder == workers.identity()
    assert recover(broker, sure=False) == []
