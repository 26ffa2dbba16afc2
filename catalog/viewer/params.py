"""The viewer's URL parameters, checked against one dataset's columns.

    sort=<column>  order=asc|desc  q=<text>  filter=<column>:<op>[:<value>] (repeatable)

Operators: eq, ne, lt, lte, gt, gte (a value is required) and null, notnull (no value). A value
is converted to the column's type here, so DuckDB only ever receives known column names and
bound parameters. A class label column takes its label names as well as their numbers.
Anything wrong raises BadQuery naming the parameter, which pages and the API answer with 400.
"""

import datetime
import decimal
from dataclasses import dataclass, field

import pyarrow as pa

from catalog.viewer import source

COMPARISONS = ("eq", "ne", "lt", "lte", "gt", "gte")
NULL_TESTS = ("null", "notnull")
OPERATORS = COMPARISONS + NULL_TESTS
OPERATOR_LABELS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "null": "is null",
    "notnull": "is not null",
}
MAX_SEARCH_LENGTH = 200
MAX_FILTERS = 20


class BadQuery(ValueError):
    def __init__(self, field_name, message):
        super().__init__(message)
        self.field = field_name
        self.message = message

    def as_dict(self):
        return {self.field: [self.message]}


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: object = None  # converted to the column's type
    text: str = ""  # as given, to rebuild the URL

    @property
    def param(self):
        return f"{self.column}:{self.op}" + (f":{self.text}" if self.op in COMPARISONS else "")

    @property
    def label(self):
        return f"{self.column} {OPERATOR_LABELS[self.op]}" + (f" {self.text}" if self.op in COMPARISONS else "")


@dataclass
class View:
    sort: str = ""
    descending: bool = False
    search: str = ""
    filters: list = field(default_factory=list)

    @property
    def is_plain(self):
        """No sort, search or filter: rows in their stored order."""
        return not (self.sort or self.search or self.filters)

    def params(self, **changes):
        """The view as URL parameters (a list of pairs), with some of them changed or dropped (None)."""
        values = {
            "sort": self.sort,
            "order": "desc" if self.sort and self.descending else "",
            "q": self.search,
            "filter": [f.param for f in self.filters],
        }
        values.update(changes)
        pairs = []
        for key, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                if item not in (None, ""):
                    pairs.append((key, item))
        return pairs


def column_kind(arrow_type):
    """How a column can be filtered: number, string, bool, date, datetime or other."""
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    return "other"


def searchable_columns(schema):
    return [f.name for f in schema if column_kind(f.type) == "string"]


def parse(params, schema, features=None):
    """A View from request parameters (a QueryDict or a dict of lists) for a table with this schema."""
    features = features or {}
    names = [f.name for f in schema]

    def get(key):
        if hasattr(params, "getlist"):
            values = params.getlist(key)
        else:
            values = params.get(key, [])
            values = values if isinstance(values, list) else [values]
        return [v for v in values if v is not None]

    view = View()
    sort = (get("sort") or [""])[-1].strip()
    if sort:
        if sort not in names:
            raise BadQuery("sort", f"Unknown column {sort!r}; the columns are: {', '.join(names)}.")
        view.sort = sort
    order = (get("order") or [""])[-1].strip().lower()
    if order not in ("", "asc", "desc"):
        raise BadQuery("order", f"Unknown order {order!r}; use asc or desc.")
    view.descending = order == "desc"

    search = (get("q") or [""])[-1].strip()
    if len(search) > MAX_SEARCH_LENGTH:
        raise BadQuery("q", f"Search for at most {MAX_SEARCH_LENGTH} characters.")
    if search and not searchable_columns(schema):
        raise BadQuery("q", "This dataset has no text columns to search.")
    view.search = search

    raw_filters = [f for f in get("filter") if f.strip()]
    if len(raw_filters) > MAX_FILTERS:
        raise BadQuery("filter", f"At most {MAX_FILTERS} filters.")
    # Longest names first, so a column whose name contains ':' is still found.
    by_length = sorted(names, key=len, reverse=True)
    for raw in raw_filters:
        view.filters.append(parse_filter(raw, schema, by_length, features))
    return view


def parse_filter(raw, schema, names_longest_first, features):
    column = next((name for name in names_longest_first if raw.startswith(name + ":")), None)
    if column is None:
        raise BadQuery(
            "filter", f"{raw!r} does not start with a column name and ':' (column:operator:value); unknown column."
        )
    op, _, text = raw[len(column) + 1 :].partition(":")
    if op not in OPERATORS:
        raise BadQuery("filter", f"Unknown operator {op!r} in {raw!r}; use one of {', '.join(OPERATORS)}.")
    if op in NULL_TESTS:
        return Filter(column, op)
    arrow_type = schema.field(column).type
    kind = column_kind(arrow_type)
    if kind == "other":
        raise BadQuery("filter", f"Column {column!r} can only be filtered with null or notnull.")
    if kind == "bool" and op not in ("eq", "ne"):
        raise BadQuery("filter", f"Column {column!r} is true/false: use eq or ne.")
    value = convert(text, arrow_type, kind, source.class_names(features.get(column)), column)
    return Filter(column, op, value, text)


def convert(text, arrow_type, kind, labels, column):
    def bad(expected):
        return BadQuery("filter", f"{text!r} is not {expected} (column {column!r}).")

    if kind == "string":
        return text
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise bad("true or false")
    if kind == "number":
        if labels is not None and text in labels:
            return labels.index(text)
        if pa.types.is_integer(arrow_type):
            try:
                return int(text)
            except ValueError:
                raise bad("a whole number" + (" or a label name" if labels is not None else "")) from None
        if pa.types.is_decimal(arrow_type):
            try:
                return decimal.Decimal(text)
            except decimal.InvalidOperation:
                raise bad("a number") from None
        try:
            return float(text)
        except ValueError:
            raise bad("a number") from None
    if kind == "date":
        try:
            return datetime.date.fromisoformat(text.strip())
        except ValueError:
            raise bad("a date (YYYY-MM-DD)") from None
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad("a date and time (YYYY-MM-DDTHH:MM:SS)") from None
