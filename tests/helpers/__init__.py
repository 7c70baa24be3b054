"""Builders, servers and registry readers shared by the tests (imported as ``helpers.…``; no test
module imports another)."""
