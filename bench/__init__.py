"""Benchmarks: one command per figure (see README)."""
