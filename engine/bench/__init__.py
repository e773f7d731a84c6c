"""Benchmarks. Each measurement returns a dict of numbers (JSON-serialisable, with a "name")."""
