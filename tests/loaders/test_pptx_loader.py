from __future__ import annotations

from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Inches

from ragline.errors import LoaderError
from ragline.loaders.pptx import PptxLoader


def make_deck(path: Path) -> Path:
    deck = Presentation()
    deck.core_properties.author = "Ada Lovelace"
    deck.core_properties.title = "Roadmap"
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Q3 goals"
    first.placeholders[1].text_frame.text = "Ship the harbour tracker"
    first.notes_slide.notes_text_frame.text = "Mention the budget freeze."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Headcount"
    rows = [["Team", "People"], ["Ops", "4"], ["Data", "6"]]
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    untitled = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    box = untitled.shapes.add_textbox(Inches(1), Inches(1), Inches(5), Inches(1))
    box.text_frame.text = "Questions?"
    deck.save(str(path))
    return path


def test_slides_are_sections_and_pages_with_notes_and_tables(tmp_path: Path) -> None:
    [doc] = PptxLoader().load(make_deck(tmp_path / "roadmap.pptx"))
    assert doc.text == (
        "# Q3 goals\n\nShip the harbour tracker\n\nNotes:\nMention the budget freeze.\n\n"
        "# Headcount\n\n| Team | People |\n| --- | --- |\n| Ops | 4 |\n| Data | 6 |\n\n"
        "# Slide 3\n\nQuestions?"
    )
    assert doc.title == "Roadmap"
    assert doc.metadata == {
        "slides": 3,
        "author": "Ada Lovelace",
        "file_name": "roadmap.pptx",
        "file_type": "pptx",
    }
    assert doc.page_at(doc.text.index("budget freeze")) == 1
    assert doc.page_at(doc.text.index("| Ops")) == 2
    assert doc.page_at(doc.text.index("Questions")) == 3


def test_broken_deck_is_a_loader_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(LoaderError, match=r"not a valid \.pptx deck"):
        PptxLoader().load(broken)
