"""Helpers for testing ragline and code built on it (test doubles; the store contract suite)."""
