"""Cleaning: Unicode normalisation, control characters, whitespace and exact-duplicate removal.

May import: ``ragline.types``, ``ragline.errors``.
"""
