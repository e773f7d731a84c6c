"""Strategies: per-symbol state, a tick in, maybe a signal out."""
