"""The dataset viewer: filtered, sorted and searched pages of rows, and column statistics.

A ready dataset's Arrow files are memory-mapped with pyarrow and scanned in place by DuckDB
(source.py), so neither a page nor the statistics load the dataset into memory. Every column
name, operator and value that comes from a request is checked against the dataset's schema
(params.py) and reaches DuckDB only as a quoted known identifier or a bound parameter.
"""
