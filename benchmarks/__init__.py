"""`make bench`: program benchmarks (run with `python -m benchmarks.run`); not tests."""
