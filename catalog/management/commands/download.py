import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog import pipeline, progress, services, validators
from catalog.accounts import hub_tokens


class Command(BaseCommand):
    help = "Queue the download of a Hub dataset (or run it here with --now, showing a progress bar)."

    def add_arguments(self, parser):
        parser.add_argument("repo_id", help="Hub dataset id, e.g. 'namespace/name'.")
        parser.add_argument("--subset", default="", help="Subset (config) name; default: the dataset's default.")
        parser.add_argument("--split", default="train", help="Split name (default: train).")
        parser.add_argument("--revision", default="", help="Branch, tag or commit sha (default: main branch).")
        parser.add_argument("--max-samples", type=int, default=None, help="Keep only the first N rows.")
        parser.add_argument("--name", default="", help="Name in the catalog.")
        parser.add_argument("--now", action="store_true", help="Run in the foreground instead of queueing.")
        parser.add_argument(
            "--owner",
            default=os.environ.get("HFD_ADMIN_USER", "admin"),
            help="User who owns the dataset (default: HFD_ADMIN_USER, 'admin').",
        )

    # How the command names each field of catalog.validators.DownloadRequest in its messages.
    OPTION_OF_FIELD = {
        "repo_id": "repo_id",
        "subset": "--subset",
        "split": "--split",
        "revision": "--revision",
        "max_samples": "--max-samples",
        "name": "--name",
        "__all__": "Hub",
    }

    def handle(self, *args, repo_id, subset, split, revision, max_samples, name, now, owner, **options):
        user = get_user_model().objects.filter(username=owner).first()
        # The same rules as the page and the API, the Hub check included (with the owner's Hub token, if any).
        values = {"repo_id": repo_id, "subset": subset, "split": split, "revision": revision}
        request = validators.DownloadRequest(
            {**values, "max_samples": max_samples, "name": name}, hub_token=hub_tokens.token_for_lookup(user)
        )
        if not request.is_valid():
            problems = [
                f"{self.OPTION_OF_FIELD.get(field, field)}: {' '.join(messages)}"
                for field, messages in request.errors.items()
            ]
            raise CommandError("\n".join(problems))
        if user is None:
            raise CommandError(f"--owner: there is no user {owner!r}; name the user who will own the dataset.")

        dataset, created = services.request_download(**request.download_arguments(), owner=user, queue=not now)
        if not created:
            self.stdout.write(f"Already {dataset.status}: {dataset.name} ({dataset.pk})")
            if not now or not dataset.is_active:
                return
        elif not now:
            self.stdout.write(f"Queued {dataset.name} ({dataset.pk}); a worker (manage.py qcluster) will fetch it.")
            return

        # The bar redraws one line with "\r": it goes to the terminal itself, not through Django's
        # stderr wrapper, which would end every redraw with a newline and colour it as an error.
        terminal = getattr(self.stderr, "_out", sys.stderr)
        reporter = terminal_reporter(terminal)
        try:
            status = pipeline.run_download(dataset.pk, reporter_factory=reporter)
        finally:
            for bar in reporter.bars:
                bar.close()
        dataset.refresh_from_db()
        if status != dataset.Status.READY:
            raise CommandError(f"{dataset.status}: {dataset.error_message or 'the download did not finish'}")
        self.stdout.write(self.style.SUCCESS(f"Ready: {dataset.total_samples:,} rows in {dataset.local_path}"))


def terminal_reporter(stream):
    """A ProgressReporter that also draws a byte progress bar in the terminal."""
    from tqdm import tqdm

    class TerminalReporter(progress.ProgressReporter):
        bars = []  # Closed by the command when the run ends (the last redraw, then a newline).

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.bar = tqdm(total=self.total or None, initial=self.done, unit="B", unit_scale=True, file=stream)
            self.bars.append(self.bar)

        def flush(self):
            try:
                super().flush()
            finally:
                self.bar.total = self.total or None
                self.bar.update(self.done - self.bar.n)

    return TerminalReporter
