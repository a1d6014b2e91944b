"""Loaders: turn files into :class:`ragline.types.Document` objects, one backend per file type.

May import: ``ragline.types``, ``ragline.errors``, ``ragline.settings``, ``ragline.cleaning``.
"""
