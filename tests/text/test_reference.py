from __future__ import annotations

from ragline.text.reference import is_reference_section


def test_a_reference_entrys_own_sections_and_no_other_heading() -> None:
    for title in (
        "Description",
        "SYNOPSIS",
        "See Also",
        "Examples: Form from existing edges",
        "Return Value",
    ):
        assert is_reference_section(title), title
    for title in ("10.9. TopoGeometry Constructors", "ST_Buffer", "Scopes", "Geography Data Type", ""):
        assert not is_reference_section(title), title
