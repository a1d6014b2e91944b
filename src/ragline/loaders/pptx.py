"""PowerPoint decks (.pptx) via python-pptx: a section per slide, speaker notes included.

Each slide becomes a ``# <slide title>`` heading (``# Slide N`` when it has none), then the text of
its other shapes in reading order (top to bottom, left to right; groups opened), tables as
Markdown tables, and its speaker notes after a ``Notes:`` line. ``page_starts`` holds each slide's
offset, so citations name the slide as their page.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import join_pages, make_document, source_of
from ragline.loaders.tables import markdown_table
from ragline.types import Document, Metadata


def _shapes(shapes: Iterable[Any]) -> Iterator[Any]:
    """Shapes in reading order, group shapes replaced by their members."""
    from pptx.shapes.group import GroupShape

    def position(shape: Any) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=position):
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _shape_text(shape: Any) -> str:
    if getattr(shape, "has_table", False):
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return markdown_table(rows)
    if getattr(shape, "has_text_frame", False):
        paragraphs = ("".join(run.text for run in p.runs) or p.text for p in shape.text_frame.paragraphs)
        return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    return ""


def _slide_text(slide: Any, number: int) -> str:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text.split()) if title_shape is not None else ""
    blocks = [f"# {title or f'Slide {number}'}"]
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        text = _shape_text(shape)
        if text:
            blocks.append(text)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            blocks.append("Notes:\n" + notes.text.strip())
    return clean_text("\n\n".join(blocks))


class PptxLoader:
    """Loads a deck as one document, slide titles as sections and slides as pages.

    Example::

        [doc] = PptxLoader().load(Path("roadmap.pptx"))
        doc.page_at(doc.text.index("Q3 goals"))  # the slide number
    """

    extensions: tuple[str, ...] = (".pptx",)

    def load(self, path: Path) -> list[Document]:
        """One document; [] for a deck without text."""
        import pptx  # lazy: only decks need it
        from pptx.exc import PackageNotFoundError

        try:
            deck = pptx.Presentation(str(path))
        except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise LoaderError(
                str(path), f"not a valid .pptx deck ({type(exc).__name__}: {exc}); .ppt is not supported"
            ) from exc
        slides = [_slide_text(slide, number) for number, slide in enumerate(deck.slides, start=1)]
        if not slides:
            return []
        text, starts = join_pages(slides)
        props = deck.core_properties
        metadata: Metadata = {"slides": len(slides)}
        if props.author and props.author.strip():
            metadata["author"] = " ".join(props.author.split())
        title = (props.title or "").strip() or path.stem
        return [
            make_document(
                path, source_of(path), text, title=title, metadata=metadata, page_starts=starts, cleaned=True
            )
        ]
