"""Viewer: filtered, searched and sorted pages of a 1M-row dataset through the rows API.

The baseline does the same selection with pyarrow.compute on the same memory-mapped table
(filter, full sort, take): the obvious way without a query engine. The target is interactive:
a page within 500 ms.
"""

from bench.harness import Figure, Sample, interleaved, value_below
from bench.viewer_filtered import VIEWS, baseline, build


def filtered_pages(rows, repeat):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from catalog import storage
    from catalog.models import Dataset
    from catalog.viewer import source

    dataset = Dataset.objects.create(name="bench viewer", repo_id="bench/viewer", status=Dataset.Status.READY)
    path = storage.arrow_dir(dataset.pk)
    build(path, rows)
    table = source.open_table(path)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("bench-viewer"))
    url = f"/api/v1/datasets/{dataset.pk}/rows/"
    figures = []
    for name, spec in VIEWS.items():
        offset = spec.get("offset", 0)
        params = {k: v for k, v in spec.items() if k != "offset"} | {"offset": offset, "limit": 50}

        def ours(params=params):
            response = client.get(url, params)
            assert response.status_code == 200, response.content[:300]
            return response.json()["indices"]

        def theirs(spec=spec, offset=offset):
            return [r["id"] for r in baseline(table, spec, offset, 50)[1]]

        # Same rows (a sort by text may order ties differently: compare those as sets).
        assert sorted(ours()) == sorted(theirs()) if spec.get("sort") == ["text"] else ours() == theirs(), name
        times = interleaved({"ours": ours, "baseline": theirs}, repeat)
        label, check = value_below(0.5, "s")
        figures.append(
            Figure(
                f"viewer page: {name}, {rows:,} rows", Sample(times["ours"]), Sample(times["baseline"]), label, check
            )
        )
    figures[0].notes.append("rows API (DuckDB over the memory-mapped Arrow files) vs pyarrow.compute on the same table")
    return figures
