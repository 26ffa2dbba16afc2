from django.core.management.base import BaseCommand

from catalog import storage
from catalog.models import Dataset
from catalog.viewer import stats


class Command(BaseCommand):
    help = (
        "Compute the column statistics (with histograms and value counts) of ready datasets that were "
        "made before they existed, or of every ready dataset with --all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Recompute every ready dataset's statistics.")

    def handle(self, *args, all=False, **options):
        done = 0
        for dataset in Dataset.objects.filter(status=Dataset.Status.READY).order_by("created_at"):
            if not all and not stats.needs_pictures(dataset.column_stats):
                continue
            path = storage.arrow_dir(dataset.pk)
            if not path.is_dir():
                self.stderr.write(f"Skipped {dataset.name} ({dataset.pk}): its Arrow folder is missing.")
                continue
            # Only this field: the dataset's state is not touched.
            Dataset.objects.filter(pk=dataset.pk).update(column_stats=stats.compute_column_stats(path))
            done += 1
            self.stdout.write(f"Statistics of {dataset.name} ({dataset.pk}) computed.")
        self.stdout.write(f"{done} dataset(s) updated.")
