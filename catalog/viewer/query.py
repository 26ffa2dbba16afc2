"""Pages of a ready dataset's rows, filtered, searched and sorted by DuckDB in place.

DuckDB scans the memory-mapped Arrow table (source.open_table) and returns only the row
numbers of the page; the rows themselves are then taken from the table, so their values are
made JSON-safe exactly as the plain row browser does (catalog.browse.json_safe). A plain view
(no sort, search or filter) is a slice and never touches DuckDB.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from catalog import browse, storage
from catalog.viewer import params, source

SQL_OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


@dataclass
class Result:
    columns: list  # column names in order
    total: int  # rows in the dataset
    matched: int  # rows the view selects
    indices: list  # each row's number in the dataset
    rows: list  # JSON-safe dicts


def quote(name):
    """A column name as a DuckDB identifier. Only names from the dataset's own schema get here."""
    return '"' + name.replace('"', '""') + '"'


def open_dataset(dataset):
    """(table, features) of a ready dataset; RowsUnavailable otherwise."""
    if not dataset.is_ready:
        raise browse.RowsUnavailable(
            f"This dataset is {dataset.get_status_display().lower()}; its rows can be browsed once it is ready."
        )
    path = storage.arrow_dir(dataset.pk)
    return source.open_table(path), source.features(path)


_local = threading.local()


@contextmanager
def registered(table, row_column):
    """This thread's in-memory DuckDB with the table (plus a row-number column) registered as `t`.

    Opening a DuckDB connection costs tens of milliseconds, registering a table under one: each
    thread keeps its connection (a connection must not be shared between threads).
    """
    con = getattr(_local, "connection", None)
    if con is None:
        con = _local.connection = duckdb.connect(":memory:")
    numbered = table.append_column(row_column, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con.register("t", numbered)
    try:
        yield con
    finally:
        con.unregister("t")


def where_clause(view, schema):
    conditions, args = [], []
    for item in view.filters:
        column = quote(item.column)
        if item.op == "null":
            conditions.append(f"{column} IS NULL")
        elif item.op == "notnull":
            conditions.append(f"{column} IS NOT NULL")
        else:
            conditions.append(f"{column} {SQL_OPERATORS[item.op]} ?")
            args.append(item.value)
    if view.search:
        # contains() on lowercased text: a plain substring, so % and _ in the search mean themselves.
        columns = params.searchable_columns(schema)
        conditions.append("(" + " OR ".join(f"contains(lower({quote(c)}), ?)" for c in columns) + ")")
        args.extend([view.search.lower()] * len(columns))
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", args


def run(table, view, offset, limit):
    """The rows offset..offset+limit of the view of table."""
    columns = list(table.column_names)
    if view.is_plain:
        indices = list(range(min(offset, table.num_rows), min(offset + limit, table.num_rows)))
        picked = table.slice(offset, limit) if indices else table.slice(0, 0)
        return Result(columns, table.num_rows, table.num_rows, indices, to_rows(picked))
    row_column = "__hfd_row"
    while row_column in columns:
        row_column += "_"
    where, args = where_clause(view, table.schema)
    # Without a sort, DuckDB keeps the stored order (preserve_insertion_order is on) and can stop
    # scanning once the page is full; an ORDER BY on the row number would read every match.
    order = ""
    if view.sort:
        direction = "DESC" if view.descending else "ASC"
        order = f" ORDER BY {quote(view.sort)} {direction} NULLS LAST, {quote(row_column)}"
    try:
        with registered(table, row_column) as con:
            matched = con.execute(f"SELECT count(*) FROM t{where}", args).fetchone()[0] if where else table.num_rows
            found = con.execute(
                f"SELECT {quote(row_column)} FROM t{where}{order} LIMIT ? OFFSET ?", [*args, limit, offset]
            ).fetchall()
    except duckdb.Error as exc:
        # A value params.py accepted but DuckDB cannot compare (say, a time zone against a naive time).
        field = "filter" if view.filters else "sort" if view.sort else "q"
        raise params.BadQuery(field, f"This view cannot be computed: {exc}") from None
    indices = [row[0] for row in found]
    picked = table.take(pa.array(indices, type=pa.int64())) if indices else table.slice(0, 0)
    return Result(columns, table.num_rows, matched, indices, to_rows(picked))


def to_rows(table):
    return [{name: browse.json_safe(value) for name, value in row.items()} for row in table.to_pylist()]


def read_view(dataset, query_params, offset, limit):
    """(Result, View) for a ready dataset and the request's viewer parameters; BadQuery on bad input."""
    table, features = open_dataset(dataset)
    view = params.parse(query_params, table.schema, features)
    return run(table, view, offset, limit), view
