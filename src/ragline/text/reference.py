"""The sections of a reference entry (DocBook's refentry, a man page): "Synopsis", "Description",
"Parameters", "Examples", ... They name no entry of their own: what they describe is the function
or command the entry is about.

    is_reference_section("Description")                          # True
    is_reference_section("Examples: Form from existing edges")   # True
    is_reference_section("10.9. TopoGeometry Constructors")      # False
"""

from __future__ import annotations

REFERENCE_SECTIONS = frozenset(
    {
        "synopsis", "description", "parameters", "arguments", "options", "examples", "example",
        "notes", "return value", "return values", "outputs", "diagnostics", "compatibility",
        "see also", "usage", "environment", "files", "exit status", "errors", "bugs", "caveats",
        # A man page's other standard sections.
        "configuration", "versions", "conforming to", "standards", "history", "authors", "author",
        "discussion", "security", "limitations", "reporting bugs", "copyright",
    }
)  # fmt: skip


def is_reference_section(title: str) -> bool:
    """Whether a heading is one of a reference entry's own sections (a titled example, "Examples:
    Form from existing edges", is one)."""
    return title.split(":", 1)[0].strip().casefold() in REFERENCE_SECTIONS
