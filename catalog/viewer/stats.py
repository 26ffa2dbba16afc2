"""Column statistics with pictures, computed once when a dataset becomes ready.

On top of catalog.browse's counts (rows, nulls, min/max/mean, string lengths) every column gets
what its chart needs:
- numbers: a histogram (`{"edges": [...], "counts": [...]}`, equal-width bins; whole numbers
  with few distinct values get one bin per value);
- strings: a histogram of their lengths in characters, and value counts when there are few
  distinct values (`{"values": [{"value", "count"}], "distinct": n}`);
- class labels and booleans: the count of every value (labels with their names).
Two passes over the memory-mapped files, a table of catalog.browse.STATS_ROWS rows at a time:
the counts first (the bins need each column's min and max), then the pictures. Memory stays
that of one such table, whatever the dataset's size.
"""

import math

import pyarrow as pa
import pyarrow.compute as pc

from catalog import browse
from catalog.viewer import source

BINS = 20
# A string column with at most this many distinct values is shown as value counts.
LOW_CARDINALITY = 30


def compute_column_stats(arrow_path):
    """{column: stats} for the saved dataset at arrow_path (see the module docstring)."""
    tables = browse.open_tables(arrow_path)  # opened once for both passes
    stats = browse.compute_column_stats(arrow_path, tables)
    features = source.features(arrow_path)
    charts = None
    for table in browse.slices(tables):
        if charts is None:
            charts = {}
            for field in table.schema:
                chart = chart_for(field, features.get(field.name), stats.get(field.name))
                if chart is not None:
                    charts[field.name] = chart
        for name, chart in charts.items():
            chart.add(table.column(name))
    for name, chart in (charts or {}).items():
        stats[name].update(chart.result())
    return stats


def needs_pictures(column_stats):
    """True for statistics made before charts existed: a number or text column without a histogram."""
    return any(
        isinstance(c, dict) and c.get("kind") in ("number", "string") and "histogram" not in c and "values" not in c
        for c in (column_stats or {}).values()
    )


def chart_for(field, feature, column):
    """The chart one column gets (None for none): value counts, a histogram, or both."""
    if column is None:
        return None
    labels = source.class_names(feature)
    if labels is not None:
        return LabelCounts(labels)
    if pa.types.is_boolean(field.type):
        return BooleanCounts()
    if column.get("kind") == "number":
        floating = pa.types.is_floating(field.type)
        return Histogram(column.get("min"), column.get("max"), whole=not floating, finite_only=floating)
    if column.get("kind") == "string":
        return StringChart(Histogram(column.get("length_min"), column.get("length_max"), whole=True))
    return None


def _counts(array, at_most=None):
    """{value: count} of the non-null values of an Array or ChunkedArray.

    None when there are more than `at_most` distinct values: they are then never turned into
    Python objects (a text column of 64k distinct strings would be).
    """
    counted = pc.value_counts(array.drop_null())
    if at_most is not None and len(counted) > at_most:
        return None
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))


class LabelCounts:
    def __init__(self, labels):
        self.labels, self.counts = labels, {}

    def add(self, column):
        for value, count in _counts(column).items():
            self.counts[value] = self.counts.get(value, 0) + count

    def result(self):
        values = [
            {"value": index, "label": label, "count": self.counts.get(index, 0)}
            for index, label in enumerate(self.labels)
        ]
        return {"class_label": True, "values": values}


class BooleanCounts(LabelCounts):
    def __init__(self):
        super().__init__(None)

    def result(self):
        return {"values": [{"value": value, "count": self.counts.get(value, 0)} for value in (True, False)]}


class Histogram:
    """Equal-width bins between low and high (None without finite bounds).

    Whole numbers with at most BINS distinct values between low and high get one bin per value.
    """

    def __init__(self, low, high, whole, finite_only=False):
        self.finite_only = finite_only
        self.bins = None
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
            return
        if not (math.isfinite(low) and math.isfinite(high)):
            return
        if whole and high - low + 1 <= BINS:
            self.bins, self.width = int(high - low + 1), 1
        elif high == low:
            self.bins, self.width = 1, 1
        else:
            self.bins, self.width = BINS, (high - low) / BINS
        self.low, self.whole = low, whole
        self.counts = [0] * self.bins

    def add(self, column):
        if self.bins is None:
            return
        values = column.drop_null().cast(pa.float64())
        if self.finite_only:
            values = values.filter(pc.is_finite(values))
        if not len(values):
            return
        index = pc.floor(pc.divide(pc.subtract(values, self.low), self.width)).cast(pa.int64())
        for bin_index, count in _counts(pc.min_element_wise(index, self.bins - 1)).items():
            if 0 <= bin_index < self.bins:
                self.counts[bin_index] += count

    def result(self):
        if self.bins is None:
            return {"histogram": None}
        # Edges are for labels and tooltips: six significant digits are plenty.
        edges = [float(f"{self.low + i * self.width:.6g}") for i in range(self.bins + 1)]
        if self.whole:
            edges = [int(e) if e.is_integer() else e for e in edges]
        return {"histogram": {"edges": edges, "counts": self.counts}}


class StringChart:
    """A histogram of the lengths in characters, and value counts while there are few distinct values."""

    def __init__(self, lengths):
        self.lengths = lengths
        self.values = {}  # None once there are more than LOW_CARDINALITY distinct values

    def add(self, column):
        self.lengths.add(pc.utf8_length(column))
        if self.values is None:
            return
        counted = _counts(column, at_most=LOW_CARDINALITY)
        if counted is not None:
            for value, count in counted.items():
                self.values[value] = self.values.get(value, 0) + count
        if counted is None or len(self.values) > LOW_CARDINALITY:
            self.values = None  # more distinct values than a chart shows

    def result(self):
        out = self.lengths.result()
        if self.values is not None:
            top = sorted(self.values.items(), key=lambda item: (-item[1], item[0]))
            out["values"] = [{"value": value, "count": count} for value, count in top]
            out["distinct"] = len(top)
        return out
