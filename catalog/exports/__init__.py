"""Getting a ready dataset out: Parquet (sharded when large), JSON Lines and CSV.

JSON Lines and CSV are written batch by batch from the memory-mapped Arrow table straight into
the response, with no copy on disk. Parquet needs its whole file for its footer, and Range
requests need fixed bytes, so its shards are written once, on first request, beside the Arrow
folder (storage.exports_dir) and served from there like any static file.
"""
