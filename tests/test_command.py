import io

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Dataset
from tests.fakehub import repos

pytestmark = pytest.mark.django_db(transaction=True)


def test_download_command_queues(fake_hub, capsys, user):
    call_command("download", repos.JSONL, "--split", "test", "--owner", "alice")
    dataset = Dataset.objects.get()
    assert dataset.owner == user
    assert dataset.status == Dataset.Status.PENDING
    assert "Queued" in capsys.readouterr().out
    # The request was checked on the Hub (its card), but no data was fetched.
    assert fake_hub.bytes_served() == fake_hub.bytes_served(path="README.md")


def test_download_command_now_runs_in_the_foreground_with_a_progress_bar(fake_hub, capsys, admin_user):
    # Without --owner, the dataset belongs to the first user (HFD_ADMIN_USER, "admin").
    call_command("download", repos.MULTI, "--subset", "extra", "--split", "test", "--max-samples", "50", "--now")
    dataset = Dataset.objects.get()
    assert dataset.status == Dataset.Status.READY
    assert dataset.owner == admin_user
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
        (["acme/x", "--max-samples", str(2**63)], "--max-samples"),
    ],
)
def test_download_command_validates(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("download", *args)


def test_download_command_reports_failure(fake_hub, user):
    with pytest.raises(CommandError, match="was not found"):
        call_command("download", repos.MISSING, "--now", "--owner", "alice")


@pytest.mark.parametrize(
    "args, message",
    [
        ([repos.MISSING], "repo_id: Dataset 'acme/missing' was not found"),
        ([repos.MULTI, "--revision", "no-such-branch"], "--revision: Revision 'no-such-branch' does not exist"),
        ([repos.MULTI, "--subset", "nope"], "--subset: Subset 'nope' does not exist"),
        ([repos.MULTI, "--split", "validation"], "--split: Split 'validation' does not exist"),
    ],
)
def test_download_command_checks_the_hub_like_the_page_and_the_api(fake_hub, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("download", *args)
    assert Dataset.objects.count() == 0


def test_download_command_when_the_hub_cannot_be_reached(fake_hub, settings):
    settings.HFD_RETRY_BACKOFF = 0.01
    fake_hub.fail(repos.MULTI, status=503, times=10)
    with pytest.raises(CommandError, match="Hub: .*HTTP 503"):
        call_command("download", repos.MULTI)
    assert Dataset.objects.count() == 0


class Terminal(io.StringIO):
    """What a terminal looks like to Django's OutputWrapper (which styles and ends every write there)."""

    def isatty(self):
        return True


def test_progress_bar_redraws_one_line_on_the_terminal(fake_hub, admin_user):
    terminal = Terminal()
    call_command("download", repos.MULTI, "--subset", "extra", "--split", "test", "--now", stderr=terminal)
    assert Dataset.objects.get().status == Dataset.Status.READY
    shown = terminal.getvalue()
    assert "\r" in shown and "B/s" in shown, shown
    # One line redrawn in place, ended once, and not styled as an error.
    assert shown.count("\n") == 1, shown
    assert "\x1b[" not in shown


def test_download_command_needs_an_existing_owner(fake_hub):
    with pytest.raises(CommandError, match="--owner: there is no user 'nobody'"):
        call_command("download", repos.MULTI, "--owner", "nobody")
    assert Dataset.objects.count() == 0
