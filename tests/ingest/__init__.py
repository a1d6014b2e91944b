"""Tests of ``ragline.ingest``, and the small document set several of them index."""

from __future__ import annotations

from ragline.types import Document

NOTES = [
    Document(
        id="a",
        source="notes",
        title="Office energy",
        text="Solar panels were installed on the roof. The heat pump replaced the gas boiler.",
    ),
    Document(id="b", source="notes", title="Travel", text="Trains are preferred over flights in Europe."),
]
