"""What the dataset page's viewer shows: the rows of the view in the URL, and the charts."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.urls import reverse

from catalog import browse
from catalog.accounts import permissions
from catalog.viewer import params, query, source

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


class ViewRows:
    """The rows a view selects, as a lazy sequence for django.core.paginator.Paginator.

    count() asks DuckDB once; a slice runs the page's query and nothing more.
    """

    def __init__(self, table, view):
        self.table, self.view = table, view
        self._count = None

    def count(self):
        if self._count is None:
            self._count = query.run(self.table, self.view, 0, 0).matched
        return self._count

    def __len__(self):
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("ViewRows only supports slices")
        start, stop, _ = index.indices(self.count())
        result = query.run(self.table, self.view, start, max(0, stop - start))
        return list(zip(result.indices, result.rows))


class Cells:
    """How the page shows values: class labels with their names, images and audio from the media view."""

    def __init__(self, dataset, features):
        self.labels = {name: source.class_names(f) for name, f in features.items() if source.class_names(f)}
        self.media = {name: source.media_kind(f) for name, f in features.items() if source.media_kind(f)}
        self.media_url = reverse("dataset-media", args=[dataset.pk])

    def shown(self, column, value, index):
        labels = self.labels.get(column)
        if labels and isinstance(value, int) and 0 <= value < len(labels):
            return browse.LabelCell(value, labels[value])
        if column in self.media and isinstance(value, dict) and browse.is_binary_marker(value.get("bytes")):
            # Images and audio are shown from the media view, not as their bytes.
            query = urlencode({"row": index, "column": column})
            name = (value.get("path") or "").rsplit("/", 1)[-1]
            return browse.MediaCell(self.media[column], f"{self.media_url}?{query}", name, value["bytes"]["size"])
        return value


def page_size(request_params):
    raw = (request_params.get("size") or "").strip()
    if not raw:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise params.BadQuery("size", f"Rows per page must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(raw)


def url_for(pairs):
    return "?" + urlencode(pairs) if pairs else "?"


def rows_context(request, dataset, columns):
    """Context for the rows section; sets "view_error" (and the caller answers 400) on bad parameters."""
    try:
        table, features = query.open_dataset(dataset)
    except browse.RowsUnavailable as exc:
        return {"rows_error": str(exc)}
    try:
        size = page_size(request.GET)
        view = params.parse(request.GET, table.schema, features)
    except params.BadQuery as exc:
        return {"view_error": exc, "view_reset_url": "?"}
    size_pair = [("size", size)] if size != DEFAULT_PAGE_SIZE else []
    page = Paginator(ViewRows(table, view), size).get_page(request.GET.get("page"))
    first = (page.number - 1) * size
    rows_api = reverse("api:dataset-rows", args=[dataset.pk])
    types = {c["name"]: c.get("type") for c in columns}
    cells = Cells(dataset, features)
    headers = []
    for field in table.schema:
        sorted_here = view.sort == field.name
        next_desc = sorted_here and not view.descending
        headers.append(
            {
                "name": field.name,
                "type": types.get(field.name),
                "kind": params.column_kind(field.type),
                "sorted": ("desc" if view.descending else "asc") if sorted_here else "",
                "sort_url": url_for(view.params(sort=field.name, order="desc" if next_desc else "asc") + size_pair),
            }
        )
    return {
        "viewer": {
            "view": view,
            "headers": headers,
            "size": size,
            "sizes": PAGE_SIZES,
            "total": table.num_rows,
            "filters": [
                {
                    "label": item.label,
                    "remove_url": url_for(
                        view.params(filter=[f.param for f in view.filters if f is not item]) + size_pair
                    ),
                }
                for item in view.filters
            ],
            "operators": [(op, params.OPERATOR_LABELS[op]) for op in params.OPERATORS],
            "searchable": bool(params.searchable_columns(table.schema)),
            "json_url": f"{rows_api}?{urlencode(view.params() + [('offset', first), ('limit', size)])}",
            "clear_url": url_for(size_pair),
        },
        "row_columns": list(table.column_names),
        "rows_page": page,
        "rows_offset": first,
        "rows": [
            {
                "index": index,
                "json_url": f"{rows_api}?offset={index}&limit=1",
                "values": [cells.shown(column, row.get(column), index) for column in table.column_names],
            }
            for index, row in page.object_list
        ],
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }


def charts(columns):
    """For each column's stats, the bars of its chart (heights in percent of the tallest bar)."""
    for column in columns:
        stats = column.get("stats") or {}
        bars = []
        if stats.get("values"):
            top = max((v["count"] for v in stats["values"]), default=0) or 1
            for item in stats["values"]:
                value = item["value"]
                text = "true" if value is True else "false" if value is False else str(value)
                bars.append(
                    {
                        "label": str(item.get("label", text)),
                        "count": item["count"],
                        "height": round(100 * item["count"] / top, 1),
                        "filter_url": url_for([("filter", f"{column['name']}:eq:{text}")]) + "#rows",
                    }
                )
            column["chart"] = {"kind": "values", "bars": bars}
        elif stats.get("histogram"):
            histogram = stats["histogram"]
            edges, counts = histogram["edges"], histogram["counts"]
            top = max(counts, default=0) or 1
            length = stats.get("kind") == "string"
            for i, count in enumerate(counts):
                low, high = edges[i], edges[i + 1]
                one_value = isinstance(low, int) and isinstance(high, int) and high - low == 1
                bars.append(
                    {
                        "label": (f"{low}" if one_value else f"{low:g}–{high:g}") + (" ch" if length else ""),
                        "count": count,
                        "height": round(100 * count / top, 1),
                    }
                )
            column["chart"] = {"kind": "histogram", "bars": bars, "low": edges[0], "high": edges[-1], "length": length}
    return columns


FILTER_FORM_FIELDS = ("filter_column", "filter_op", "filter_value")


def filter_form_redirect(request):
    """The "Add filter" form sends three fields; the shareable URL has one filter=column:op:value.

    Returns that URL (to redirect to), or None when the request has no such form fields.
    """
    if "filter_column" not in request.GET:
        return None
    pairs = [(k, v) for k, values in request.GET.lists() if k not in FILTER_FORM_FIELDS + ("page",) for v in values]
    column, op = request.GET.get("filter_column", ""), request.GET.get("filter_op", "")
    value = request.GET.get("filter_value", "")
    pairs.append(("filter", f"{column}:{op}" if op in params.NULL_TESTS else f"{column}:{op}:{value}"))
    return f"{request.path}?{urlencode(pairs)}#rows"


def use_context(request, dataset):
    """The dataset card and the "Use this dataset" snippets of a ready dataset."""
    from catalog.exports import responses as export_responses
    from catalog.exports import writers as export_writers
    from catalog.hubapi.naming import hub_repo_id
    from catalog.viewer.card import read_card

    base = request.build_absolute_uri("/").rstrip("/")
    repo = hub_repo_id(dataset)
    split = dataset.split or "train"
    exports = [{"format": fmt, "url": export_responses.export_url(dataset, fmt)} for fmt in export_writers.FORMATS]
    parquet_url = base + export_responses.export_url(dataset, "parquet")
    rows_url = base + reverse("api:dataset-rows", args=[dataset.pk])
    snippets = [
        (
            "Python, from this server's Hub endpoint",
            "hub",
            f"# export HF_ENDPOINT={base}/hub HF_TOKEN=<your API token>\n"
            f"from datasets import load_dataset\n\n"
            f'ds = load_dataset("{repo}", split="{split}")',
        ),
        (
            "Python, from the Parquet export",
            "parquet",
            "import io, os, requests\nimport pyarrow.parquet as pq\n\n"
            f'response = requests.get("{parquet_url}",\n'
            '                        headers={"Authorization": f"Bearer {os.environ[\'HFD_TOKEN\']}"})\n'
            "table = pq.read_table(io.BytesIO(response.content))",
        ),
        (
            "curl, the rows API",
            "curl",
            f'curl -H "Authorization: Bearer $HFD_TOKEN" "{rows_url}?offset=0&limit=10"',
        ),
    ]
    if permissions.can_see_server_paths(request.user):
        # The folder is a server path: only those who may see server paths get this one.
        snippets.insert(
            2,
            (
                "Python, on this server (load_from_disk)",
                "disk",
                f'from datasets import load_from_disk\n\nds = load_from_disk("{dataset.local_path}")',
            ),
        )
    return {
        "card": read_card(dataset),
        "hub_repo_id": repo,
        "exports": exports,
        "snippets": [{"title": t, "key": k, "code": c} for t, k, c in snippets],
    }
