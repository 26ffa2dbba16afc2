import pytest
from django.core.management import CommandError, call_command

from catalog.models import Dataset
from tests.fakehub import repos

pytestmark = pytest.mark.django_db(transaction=True)


def test_download_command_queues(fake_hub, capsys):
    call_command("download", repos.JSONL, "--split", "test")
    dataset = Dataset.objects.get()
    assert dataset.status == Dataset.Status.PENDING
    assert "Queued" in capsys.readouterr().out
    assert fake_hub.bytes_served() == 0


def test_download_command_now_runs_in_the_foreground_with_a_progress_bar(fake_hub, capsys):
    call_command("download", repos.MULTI, "--subset", "extra", "--split", "test", "--max-samples", "50", "--now")
    dataset = Dataset.objects.get()
    assert dataset.status == Dataset.Status.READY
    assert dataset.total_samples == 50
    captured = capsys.readouterr()
    assert "Ready: 50 rows" in captured.out
    assert "B/s" in captured.err or "100%" in captured.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["a/b/c"], "repo_id"),
        (["acme/x", "--split", "../x"], "--split"),
        (["acme/x", "--max-samples", "0"], "--max-samples"),
    ],
)
def test_download_command_validates(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("download", *args)


def test_download_command_reports_failure(fake_hub):
    with pytest.raises(CommandError, match="was not found"):
        call_command("download", repos.MISSING, "--now")
