import shutil
import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.exports import writers
from catalog.models import Dataset


class Command(BaseCommand):
    help = (
        "Write a ready dataset as Parquet, JSON Lines or CSV. Parquet goes into a folder (one file per "
        "shard); JSON Lines and CSV into a file, or to standard output with '-'."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset_id", help="The dataset's id (a UUID, as in its URL).")
        parser.add_argument(
            "--format", choices=writers.FORMATS, default="parquet", help="parquet (default), jsonl or csv."
        )
        parser.add_argument(
            "--output", "-o", required=True, help="Folder for parquet; file (or '-' for standard output) otherwise."
        )

    def handle(self, *args, dataset_id, format, output, **options):
        try:
            dataset = Dataset.objects.get(pk=uuid.UUID(dataset_id))
        except (ValueError, Dataset.DoesNotExist):
            raise CommandError(f"dataset_id: no dataset with id {dataset_id!r}.") from None
        if dataset.status != Dataset.Status.READY:
            raise CommandError(f"{dataset.name} is {dataset.status}; only a ready dataset can be exported.")
        if format == "parquet":
            if output == "-":
                raise CommandError("--output: Parquet is written to a folder, not to standard output.")
            folder = Path(output)
            folder.mkdir(parents=True, exist_ok=True)
            for path in writers.parquet_files(dataset):
                shutil.copyfile(path, folder / path.name)
                self.stdout.write(f"Wrote {folder / path.name}")
            return
        chunks = writers.STREAMS[format](writers.table_of(dataset))
        if output == "-":
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        with open(output, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
        self.stderr.write(f"Wrote {output}")
