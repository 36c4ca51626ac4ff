"""Performance benchmarks (see README.md); runnable as `python benchmarks/<name>.py`."""
