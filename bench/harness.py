"""Measuring and reporting: interleaved repetitions, medians with min-max, the results table."""

import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Repeated measurements of one thing, in `unit`."""

    values: list
    unit: str = "s"

    @property
    def median(self):
        return statistics.median(self.values)

    def show(self):
        if len(self.values) == 1:
            return fmt(self.values[0], self.unit)
        return f"{fmt(self.median, self.unit)} ({fmt(min(self.values), self.unit)}-{fmt(max(self.values), self.unit)})"


@dataclass
class Figure:
    """One row of the table. `check(ours, baseline, ratio)` says whether the target is met."""

    name: str
    ours: Sample
    baseline: Sample | None
    target: str
    check: object
    notes: list = field(default_factory=list)

    @property
    def ratio(self):
        if self.baseline is None or not self.baseline.median:
            return None
        return self.ours.median / self.baseline.median

    @property
    def met(self):
        return bool(self.check(self.ours.median, self.baseline.median if self.baseline else None, self.ratio))


def ratio_at_most(limit):
    return f"<= {limit}x", lambda ours, baseline, ratio: ratio is not None and ratio <= limit


def value_below(limit, unit):
    return f"< {fmt(limit, unit)}", lambda ours, baseline, ratio: ours < limit


def value_equal(expected, unit=""):
    return f"== {fmt(expected, unit)}", lambda ours, baseline, ratio: ours == expected


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "B":
        for suffix, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(value) >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    if unit == "%":
        return f"{value:.2f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}{unit and ' ' + unit}"
    return f"{int(value)}{unit and ' ' + unit}"


def interleaved(runs, repeat, prepare=None, warmup=False):
    """{name: [seconds, ...]}: each callable in `runs` run `repeat` times, alternating which goes first.

    prepare(name), if given, runs untimed before each measurement (fresh folders, caches cleared).
    warmup: each callable runs once untimed first, so that neither side's median carries the
    imports and first-use costs of a cold process (for figures of a second or less).
    """
    times = {name: [] for name in runs}
    names = list(runs)
    for name in names if warmup else ():
        if prepare:
            prepare(name)
        runs[name]()
    for i in range(repeat):
        for name in names if i % 2 == 0 else reversed(names):
            if prepare:
                prepare(name)
            started = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - started)
    return times


def table(figures):
    """The results as a fixed-width text table."""
    header = ("figure", "ours", "baseline", "ratio", "target", "")
    rows = [
        (
            f.name,
            f.ours.show(),
            f.baseline.show() if f.baseline else "-",
            f"{f.ratio:.2f}x" if f.ratio is not None else "-",
            f.target,
            "ok" if f.met else "MISSED",
        )
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    out = [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    notes = [f"- {f.name}: {note}" for f in figures for note in f.notes]
    return "\n".join(out + ([""] + notes if notes else []))
