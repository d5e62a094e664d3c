"""Benchmarks against a real Redis (`make bench`, `python -m bench`, `altbot bench`).

Each benchmark module exposes `NAME`, `run(...)` and `report(section)`; results
are merged into bench/results.json one section per benchmark. Not tests: no
timing is ever asserted, the numbers are reported against the issue's targets.
"""
