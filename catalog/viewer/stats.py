"""Column statistics with pictures, computed once when a dataset becomes ready.

On top of catalog.browse's counts (rows, nulls, min/max/mean, string lengths) every column gets
what its chart needs:
- numbers: a histogram (`{"edges": [...], "counts": [...]}`, equal-width bins; whole numbers
  with few distinct values get one bin per value);
- strings: a histogram of their lengths in characters, and value counts when there are few
  distinct values (`{"values": [{"value", "count"}], "distinct": n}`);
- class labels and booleans: the count of every value (labels with their names).
DuckDB computes them over the memory-mapped table, so nothing is loaded into memory.
"""

import math

import duckdb
import pyarrow as pa

from catalog import browse
from catalog.viewer import source
from catalog.viewer.query import quote

BINS = 20
# A string column with at most this many distinct values is shown as value counts.
LOW_CARDINALITY = 30


def compute_column_stats(arrow_path):
    """{column: stats} for the saved dataset at arrow_path (see the module docstring)."""
    stats = browse.compute_column_stats(arrow_path)
    table = source.read_table(arrow_path)
    features = source.features(arrow_path)
    if not table.num_rows:
        return stats
    with duckdb.connect(":memory:") as con:
        con.register("t", table)
        for field in table.schema:
            column = stats.get(field.name)
            if column is None:
                continue
            column.update(pictures(con, field, features.get(field.name), column))
    return stats


def needs_pictures(column_stats):
    """True for statistics made before charts existed: a number or text column without a histogram."""
    return any(
        isinstance(c, dict) and c.get("kind") in ("number", "string") and "histogram" not in c and "values" not in c
        for c in (column_stats or {}).values()
    )


def pictures(con, field, feature, column):
    name = quote(field.name)
    labels = source.class_names(feature)
    if labels is not None:
        counts = dict(con.execute(f"SELECT {name}, count(*) FROM t WHERE {name} IS NOT NULL GROUP BY 1").fetchall())
        return {
            "class_label": True,
            "values": [
                {"value": index, "label": label, "count": counts.get(index, 0)} for index, label in enumerate(labels)
            ],
        }
    if pa.types.is_boolean(field.type):
        counts = dict(con.execute(f"SELECT {name}, count(*) FROM t WHERE {name} IS NOT NULL GROUP BY 1").fetchall())
        return {"values": [{"value": value, "count": counts.get(value, 0)} for value in (True, False)]}
    if column.get("kind") == "number":
        values = name
        if pa.types.is_floating(field.type):
            finite = f"{name} IS NOT NULL AND isfinite({name})"
        else:
            finite = f"{name} IS NOT NULL"
        return {"histogram": histogram(con, values, finite, column.get("min"), column.get("max"), field.type)}
    if column.get("kind") == "string":
        out = {
            "histogram": histogram(
                con, f"length({name})", f"{name} IS NOT NULL", column.get("length_min"), column.get("length_max")
            )
        }
        distinct = con.execute(f"SELECT approx_count_distinct({name}) FROM t").fetchone()[0]
        if distinct <= LOW_CARDINALITY * 2:
            top = con.execute(
                f"SELECT {name}, count(*) AS n FROM t WHERE {name} IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?",
                [LOW_CARDINALITY + 1],
            ).fetchall()
            if len(top) <= LOW_CARDINALITY:
                out["values"] = [{"value": value, "count": count} for value, count in top]
                out["distinct"] = len(top)
        return out
    return {}


def histogram(con, expression, condition, low, high, arrow_type=None):
    """Equal-width bins between low and high; {"edges", "counts"} or None without finite values."""
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return None
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    whole = arrow_type is None or pa.types.is_integer(arrow_type)
    if whole and high - low + 1 <= BINS:
        # One bin per whole number: edges low, low+1, ..., high+1.
        bins, width = int(high - low + 1), 1
    elif high == low:
        bins, width = 1, 1
    else:
        bins, width = BINS, (high - low) / BINS
    rows = con.execute(
        f"SELECT least(CAST(floor(({expression} - ?) / ?) AS BIGINT), ?) AS bin, count(*) "
        f"FROM t WHERE {condition} GROUP BY bin",
        [low, width, bins - 1],
    ).fetchall()
    counts = [0] * bins
    for index, count in rows:
        if index is not None and 0 <= index < bins:
            counts[index] += count
    # Edges are for labels and tooltips: six significant digits are plenty.
    edges = [float(f"{low + i * width:.6g}") for i in range(bins + 1)]
    if whole:
        edges = [int(e) if e.is_integer() else e for e in edges]
    return {"edges": edges, "counts": counts}
