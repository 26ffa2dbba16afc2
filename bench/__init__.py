"""The benchmark suite: `python -m bench --quick` (under two minutes) or `python -m bench` (full).

See bench/README.md. Every figure measures our code and its baseline in this process tree,
interleaved, and prints medians with min-max; the exit status is 1 when a target is missed.
"""
