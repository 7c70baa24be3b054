"""Data quality: the Great Expectations suites of ``expectations/`` (reviewed like code) run on the
staged rows of a file; row failures become quarantine reason codes, file failures refuse the file."""
