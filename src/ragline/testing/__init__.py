"""What ragline ships for testing code built on it: :mod:`ragline.testing.doubles` (test doubles
such as a model-free embedder) and :mod:`ragline.testing.store_contract`, the tests every store
backend must pass (needs pytest; nothing in ragline imports this package)."""
