"""HTML files (.html, .htm): main content only, rendered as Markdown-like text (tables as Markdown
tables)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import make_document, read_bytes, source_of
from ragline.loaders.tables import markdown_table
from ragline.text.reference import is_reference_section
from ragline.types import Document, Metadata

# XHTML pages (git's asciidoc manual opens each with "<?xml ...?>") are HTML to this loader:
# lxml's HTML parser reads them whole, and bs4's advice to parse them as XML, printed once per
# ingest, would send a user after a problem they do not have. Only for this module's calls.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning, module=__name__)

# Never content.
_DROP_ALWAYS = frozenset(
    {"script", "style", "noscript", "template", "svg", "iframe", "head", "link", "meta", "object", "canvas"}
)
# Page furniture by element name (<header> and <form> are handled separately).
_DROP_TAGS = frozenset({"nav", "aside", "footer", "dialog", "button", "select"})
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu", "menubar", "dialog"})
# Page furniture by class/id: substrings of a lower-cased class or id ...
_DROP_SUBSTRINGS = (
    "sidebar",
    "navbar",
    "navigation",
    "menu",
    "footer",
    "breadcrumb",
    "cookie",
    "skip-link",
    "skiplink",
    "headerlink",
    "anchorjs",
)
# ... and whole tokens (or token prefixes/suffixes for "nav": "topnav", "nav-links").
_TOKEN_SPLIT = re.compile(r"[\s_\-]+")
_PERMALINK_TEXT = frozenset({"¶", "#", "§", "🔗"})

_SECTIONING = ["article", "section", "main"]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_INLINE = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em",
        "font", "i", "img", "input", "ins", "kbd", "label", "mark", "meter", "nobr", "output",
        "progress", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub",
        "sup", "time", "tt", "u", "var", "wbr",
    }
)  # fmt: skip
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_WHITESPACE = re.compile(r"\s+")
# Heuristic removals (class/id, <form>) spare an element holding more than this share of the text,
# so that a page-wide wrapper such as <div class="has-sidebar"> or an ASP.NET <form> is kept ...
_MAX_DROPPED_SHARE = 0.5
# ... and one that reads like prose: long and not made of links (menus and sidebars are links,
# cookie banners and breadcrumbs are short).
_PROSE_MIN_CHARS = 250
_PROSE_MAX_LINK_DENSITY = 0.5
# Elements nested deeper than this below the content container are rendered as plain text (issue
# 21: 10k levels took 45 s and failed on recursion). Browsers cap their DOM depth too (Blink at 512).
_MAX_DEPTH = 128
# A list of at least this many links into the page, holding this share of its text, is the page's
# table of contents (_in_page_contents).
_CONTENTS_MIN_LINKS = 3
_CONTENTS_LINKED_SHARE = 0.9


def _is_furniture_name(value: str) -> bool:
    """Whether a class or id value names navigation/boilerplate."""
    value = value.lower()
    if any(part in value for part in _DROP_SUBSTRINGS):
        return True
    return any(
        tok == "nav" or tok.startswith("nav") or tok.endswith("nav") for tok in _TOKEN_SPLIT.split(value)
    )


def _attr_values(tag: Tag, name: str) -> list[str]:
    value = tag.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _text_len(tag: Tag) -> int:
    return len(_WHITESPACE.sub("", tag.get_text()))


def _holds_main_content(tag: Tag) -> bool:
    """Whether ``tag`` is or wraps the page's main content (never to be dropped)."""
    if tag.name in ("main", "article") or "main" in _attr_values(tag, "role"):
        return True
    return tag.find(["main", "article"]) is not None or tag.find(role="main") is not None


def _spared(tag: Tag, total: int) -> bool:
    """Whether an element that looks like furniture by name must be kept as content."""
    if _holds_main_content(tag):
        return True
    length = _text_len(tag)
    if length > total * _MAX_DROPPED_SHARE:
        return True
    if length < _PROSE_MIN_CHARS:
        return False
    link_chars = sum(_text_len(a) for a in tag.find_all("a"))
    return link_chars / length < _PROSE_MAX_LINK_DENSITY


def _pick_container(soup: BeautifulSoup) -> Tag:
    """The element holding the main content: <main>, a single <article>, [role=main], else <body>."""
    candidates: list[Tag | None] = [soup.find("main")]
    articles = soup.find_all("article")
    if len(articles) == 1 and isinstance(articles[0], Tag):
        candidates.append(articles[0])
    role_main = soup.find(role="main")
    candidates.append(role_main if isinstance(role_main, Tag) else None)
    for candidate in candidates:
        if isinstance(candidate, Tag) and candidate.get_text(strip=True):
            return candidate
    body = soup.find("body")
    return body if isinstance(body, Tag) else soup


def _in_page_contents(tag: Tag, page: str | None = None) -> bool:
    """Whether the list ``tag`` is a page's own table of contents: at least
    ``_CONTENTS_MIN_LINKS`` links into the page ("#Usage") that hold nearly all of its text
    (texinfo's and Sphinx's local contents). Each entry repeats a heading of the page, so the
    list ranks for every question about the page and answers none: FFmpeg's FAQ answered "How
    do I encode single pictures into movies?" with its own contents line. A list of links to
    other pages (a chunked manual's contents) is kept: it is that page's text. A link may spell
    the page's own file name (``page``) before its fragment, as LaTeX2HTML's "Subsections" lists
    do ("Data_Encryption.html#SECTION0042100")."""
    links = [a for a in tag.find_all("a") if _into_page(str(a.get("href", "")), page)]
    if len(links) < _CONTENTS_MIN_LINKS:
        return False
    linked = sum(_text_len(a) for a in links)
    # The entries' numbers outside their links ("3.1. " before each question of DocBook's FAQ
    # contents) are the contents' own.
    numbers = sum(len(m.group(0)) for m in _ENTRY_NUMBER.finditer(tag.get_text(" ")))
    return linked >= _CONTENTS_LINKED_SHARE * max(_text_len(tag) - numbers, 1)


_ENTRY_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*\.?(?=\s)")


def _into_page(href: str, page: str | None) -> bool:
    """Whether ``href`` points into the page itself: a bare fragment, or ``page`` (the page's file
    name) and a fragment."""
    if href.startswith("#"):
        return True
    path, hash_, _ = href.partition("#")
    return bool(page) and bool(hash_) and path.removeprefix("./") == page


def _hidden_from_readers(tag: Tag) -> bool:
    return str(tag.get("aria-hidden", "")).strip().lower() == "true"


def _is_section(tag: Tag) -> bool:
    return tag.name in _SECTIONING or "main" in _attr_values(tag, "role")


def _drops(tag: Tag, total: int, in_section: bool, page: str | None = None) -> bool:
    """Whether ``tag`` is page furniture to remove (``in_section``: inside an article, section,
    main or [role=main])."""
    name = tag.name
    if name in _DROP_ALWAYS:
        return True
    roles = {r.lower() for v in _attr_values(tag, "role") for r in v.split()}
    if name in _DROP_TAGS or roles & _DROP_ROLES:
        return True
    if name == "header":
        # An article's or section's <header> holds its title; the page's <header> is the banner.
        return not in_section
    if (
        name == "a"
        and str(tag.get("href", "")).startswith("#")
        and (tag.get_text(strip=True) in _PERMALINK_TEXT or _hidden_from_readers(tag))
    ):
        # A link into the page that is a permalink sign, or that the page itself hides from
        # screen readers (texinfo's "#" and "TOC" after every heading), is no part of the text.
        return True
    if name in ("ul", "ol", "dl") and _in_page_contents(tag, page):
        return True
    heuristic = name == "form" or any(
        _is_furniture_name(v) for attr in ("class", "id") for v in _attr_values(tag, attr)
    )
    if not heuristic:
        return False
    if name in _WORDS_INLINE and not _mostly_links(tag):
        # A word of the text that names a menu, as DocBook marks one ("Search → Find Broken" as
        # <span class="guimenu"> and "guimenuitem"), is the text's, whatever its class says.
        return False
    return not _spared(tag, total)


# Inline elements that hold words of the text (not links, images or form fields).
_WORDS_INLINE = frozenset({"span", "strong", "em", "b", "i", "code", "kbd", "var", "tt", "samp"})


def _mostly_links(tag: Tag) -> bool:
    """Whether links hold at least half of ``tag``'s text (a breadcrumb, a menu of links)."""
    length = _text_len(tag)
    return length > 0 and 2 * sum(_text_len(a) for a in tag.find_all("a")) >= length


def _strip_furniture(container: Tag, page: str | None = None) -> None:
    """Remove navigation, banners, sidebars and the like from inside ``container``.

    A pre-order walk with an explicit stack that never enters a removed element (bs4's
    ``Tag.decomposed`` would search the element's subtree for a child tag of that name on every
    call: quadratic on deep pages).
    """
    total = max(_text_len(container), 1)
    in_section = any(_is_section(t) for t in (container, *container.parents))
    stack: list[tuple[Tag, bool]] = [
        (child, in_section) for child in reversed(container.contents) if isinstance(child, Tag)
    ]
    while stack:
        tag, inside = stack.pop()
        if _drops(tag, total, inside, page):
            _empty(tag)
            continue
        inside = inside or _is_section(tag)
        stack.extend((child, inside) for child in reversed(tag.contents) if isinstance(child, Tag))


def _empty(tag: Tag) -> None:
    """Remove what ``tag`` holds and leave it an empty ``<span>``, which renders as nothing.

    Removing the element itself (``decompose``) looks it up among its parent's children, so a
    page of 20,000 tables of contents between paragraphs took twice as long as keeping them;
    emptying takes each child from the front of its list."""
    tag.clear(decompose=True)
    tag.name = "span"
    tag.attrs = {}


def _flatten_deep(root: Tag) -> None:
    """Replace each element nested ``_MAX_DEPTH`` or more levels below ``root`` by its text.

    The renderer recurses once or twice per level; real pages stay far below the cap, and past it
    only the structure (headings, lists) and furniture removal of the deepest content are lost,
    never its words.
    """
    deep: list[Tag] = []
    stack: list[tuple[Tag, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.contents:
            if not isinstance(child, Tag):
                continue
            if depth + 1 < _MAX_DEPTH:
                stack.append((child, depth + 1))
            else:
                deep.append(child)
    for tag in deep:
        # Words of neighbouring blocks joined by spaces, not run together; get_text leaves out
        # scripts, styles, templates and comments.
        tag.replace_with(NavigableString(f" {tag.get_text(' ')} "))
        tag.decompose()


class _Renderer:
    """Walks an element tree and renders Markdown-like blocks."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._inline: list[str] = []

    def render(self, node: Tag) -> str:
        for child in node.children:
            self._walk(child)
        self._flush()
        return "\n\n".join(reference_entries(self.blocks))

    def _flush(self) -> None:
        if not self._inline:
            return
        joined = "".join(self._inline)
        self._inline = []
        lines = (" ".join(line.split()) for line in joined.split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)

    def _sub_render(self, node: Tag) -> str:
        return _Renderer().render(node)

    def _inline_text(self, node: Tag) -> str:
        return " ".join(self._sub_render(node).split())

    def _walk(self, node: object) -> None:
        if isinstance(node, NavigableString):
            if not isinstance(node, _SKIPPED_STRINGS):
                # Source whitespace is insignificant; <br> is the only in-block line break.
                self._inline.append(_WHITESPACE.sub(" ", str(node)))
            return
        if not isinstance(node, Tag):
            return
        name = node.name
        if name == "br":
            self._inline.append("\n")
        elif name in _INLINE:
            for child in node.children:
                self._walk(child)
        elif name in _HEADINGS:
            self._flush()
            heading = self._inline_text(node).replace("¶", "").strip()
            if heading:
                self.blocks.append("#" * _HEADINGS[name] + " " + heading)
        elif name == "pre":
            self._flush()
            self.blocks.extend(preformatted_blocks(node.get_text()))
        elif name in ("ul", "ol", "menu"):
            self._flush()
            self._render_list(node)
        elif name == "table":
            self._flush()
            self._render_table(node)
        else:
            self._flush()
            for child in node.children:
                self._walk(child)
            self._flush()

    def _render_list(self, node: Tag) -> None:
        items: list[str] = []
        for child in node.children:
            if isinstance(child, Tag) and child.name == "li":
                body = _Renderer().render(child).replace("\n\n", "\n")
                if body:
                    first, *rest = body.split("\n")
                    if first.startswith(("```", "~~~")):
                        # "- ```" is no fence to a line-wise reader: the item's code opens on the
                        # line after its bullet, or its closing fence would open the next block.
                        items.append("\n".join(["-", *(f"  {line}" for line in (first, *rest))]))
                    else:
                        items.append("\n".join([f"- {first}", *(f"  {line}" for line in rest)]))
            elif isinstance(child, Tag):
                body = _Renderer().render(child)
                if body:
                    items.append(body)
            elif isinstance(child, NavigableString) and not isinstance(child, _SKIPPED_STRINGS):
                stray = " ".join(str(child).split())
                if stray:
                    items.append(stray)
        if items:
            self.blocks.append("\n".join(items))

    def _render_table(self, table: Tag) -> None:
        caption = table.find("caption")
        if isinstance(caption, Tag) and caption.find_parent("table") is table:
            text = self._inline_text(caption)
            if text:
                self.blocks.append(text)
        rows: list[list[str]] = []
        for row in table.find_all("tr"):
            if not isinstance(row, Tag) or row.find_parent("table") is not table:
                continue
            rows.append([self._inline_text(cell) for cell in row.find_all(["td", "th"], recursive=False)])
        # The first row is the header (a <thead> row comes first in document order).
        rendered = markdown_table(rows)
        if rendered:
            self.blocks.append(rendered)


# Preformatted prose: manuals converted from plain text (HAProxy's, RFC-style pages) wrap every
# paragraph in <pre> at ~78 columns. A paragraph of it reads as prose when its lines are runs of
# words (at least this many a line on average) with sentence punctuation and hardly any of code's
# symbols; it is unwrapped into a paragraph, the rest stays fenced code.
_PROSE_MIN_WORDS_PER_LINE = 6
_PROSE_MAX_SYMBOLS = 0.02
_CODE_SYMBOLS = frozenset("{}[]=;<>$|\\`")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"[a-z]{2}[.?!](?:\s|$)")
_SMALL_WORDS = frozenset(
    [
        "the", "a", "an", "is", "are", "was", "be", "been", "of", "to", "in", "on", "at", "by", "for",
        "with", "from", "and", "or", "not", "no", "if", "when", "which", "that", "this", "these", "it",
        "its", "as", "can", "may", "will", "must", "should", "than", "then", "there", "their", "you",
        "your",
    ]
)  # fmt: skip
_PROSE_MIN_SMALL_WORDS = 0.25


def _reads_as_prose(paragraph: str) -> bool:
    """Whether a paragraph of a <pre> block is wrapped prose, not code (see ``_PROSE_MIN_WORDS_PER_LINE``)."""
    lines = paragraph.split("\n")
    # Indented (an example), or a comment, prompt, quote or list: not a paragraph of prose.
    if paragraph[:1].isspace() or lines[0].lstrip().startswith(("#", "$", ">", "-", "*", "/", ";")):
        return False
    text = " ".join(lines)
    words = text.split()
    if len(words) < _PROSE_MIN_WORDS_PER_LINE * len(lines) or not _SENTENCE_END.search(text):
        return False
    # English prose is a quarter or more small words ("the", "of", "is"), written as prose
    # writes them ("in", "In", not a DNS record's "IN"); a log line, a command or a record of
    # values is not.
    small = sum(w in _SMALL_WORDS or (w.istitle() and w.lower() in _SMALL_WORDS) for w in words)
    if small < _PROSE_MIN_SMALL_WORDS * len(words):
        return False
    symbols = sum(ch in _CODE_SYMBOLS for ch in text)
    return symbols <= _PROSE_MAX_SYMBOLS * len(text) and not any(
        line.rstrip().endswith(("{", ";", "\\")) for line in lines
    )


# A <pre> line that names a thing and says what it is: "OL      -- On line (mains is present)",
# "-v  - verbose output", "CAL     UPS is calibrating" (the columns aligned). A block of such lines
# is a definition list typed as text, which developer guides and man pages do for status words,
# flags and options; read as code, its rows were one piece no answer could quote a row of.
_NAMED_LINE = re.compile(
    r"(?P<name>[^\s#$>/;\\]\S{0,39})(?P<sep>[ \t]+(?:--|—|-)[ \t]+|[ \t]{2,})(?P<desc>\S.*)"
)
_DEFINITION_LINES_MIN = 3
_WORD = re.compile(r"[A-Za-z][a-z]+")


def _describes(desc: str) -> bool:
    """Whether ``desc`` reads as a description in words: two words or more, opening with a letter
    or digit, at least half of them words, not a command's arguments, a listing's values ("root
    root 4096 Jan 3") or a comment ("// First page")."""
    words = desc.split()
    return len(words) >= 2 and desc[0].isalnum() and 2 * len(_WORD.findall(desc)) >= len(words)


def definition_rows(paragraph: str) -> list[tuple[str, str]] | None:
    """A paragraph of a <pre> block as (name, description) rows when every line is one (see
    ``_NAMED_LINE``): at least three lines, one kind of separator, the descriptions of a
    space-aligned block starting in one column, each description words rather than values::

        definition_rows("OL  -- On line\nOB  -- On battery\nLB  -- Low battery")
        # [("OL", "On line"), ("OB", "On battery"), ("LB", "Low battery")]
        definition_rows("driver = usbhid-ups\nport = auto\ndesc = UPS")  # None
    """
    lines = [line.rstrip() for line in paragraph.split("\n") if line.strip()]
    if len(lines) < _DEFINITION_LINES_MIN:
        return None
    rows: list[tuple[str, str]] = []
    kinds: set[str] = set()
    columns: set[int] = set()
    for line in lines:
        m = _NAMED_LINE.fullmatch(line)
        if m is None:
            return None
        desc = m.group("desc").strip()
        # Not a grammar's right-hand side ("= create / delete") or a block's opening line.
        if not _describes(desc) or desc.endswith(("{", ";", "\\")):
            return None
        # "1.2.3.4: data for 1.2.3.4", '"abcd::cdab": ...': a data file's keys, an example of its
        # syntax rather than names described.
        if m.group("name").endswith(":") or m.group("name")[0] in "\"'`":
            return None
        sep = m.group("sep").strip()
        kinds.add(sep)
        if not sep:
            columns.add(m.start("desc"))
        rows.append((m.group("name"), desc))
    if len(kinds) != 1 or len(columns) > 1 or len({name for name, _ in rows}) < len(rows):
        return None
    return rows


# A man page's option list typed into <pre>: the option on its own line, its description on the
# lines below, indented deeper ("-t, --configtest" then "    Test the syntax of the specified
# config").
_OPTION_LINE = re.compile(r"(?P<indent>[ \t]*)(?P<name>--?[A-Za-z0-9][^\s,]*(?:,?[ \t]+\S+){0,4})")
_OPTIONS_MIN = 3


def hanging_rows(paragraph: str) -> list[tuple[str, str]] | None:
    """A paragraph of a <pre> block as (option, description) rows when it is a list of options,
    each on a line of its own with its description on the deeper-indented lines below it (at least
    three options, every description words rather than values)::

        hanging_rows(" -h, --help\n     Display usage\n -q, --quiet\n     Send no output\n"
                     " -t, --configtest\n     Test the syntax of the config")
        # [("-h, --help", "Display usage"), ("-q, --quiet", "Send no output"), ...]
    """
    lines = [line.rstrip() for line in paragraph.split("\n") if line.strip()]
    if len(lines) < 2 * _OPTIONS_MIN:
        return None
    rows: list[tuple[str, list[str]]] = []
    indent: int | None = None
    for line in lines:
        depth = len(line) - len(line.lstrip())
        m = _OPTION_LINE.fullmatch(line)
        if m is not None and (indent is None or depth == indent):
            indent = depth
            rows.append((m.group("name"), []))
        elif rows and indent is not None and depth > indent:
            rows[-1][1].append(line.strip())
        else:
            return None
    if len(rows) < _OPTIONS_MIN:
        return None
    out = [(name, " ".join(desc_lines)) for name, desc_lines in rows]
    return out if all(_describes(desc) for _, desc in out) else None


def _as_rows(rows: list[tuple[str, str]]) -> str:
    """Definition rows as a table's rows (no header: the block names no columns)."""
    return "\n".join(
        f"| {name.replace('|', chr(92) + '|')} | {desc.replace('|', chr(92) + '|')} |" for name, desc in rows
    )


def preformatted_blocks(text: str) -> list[str]:
    """A <pre> element's text as blocks: each paragraph that reads as prose unwrapped into one
    line, the others fenced as code (so that "# comment" lines are not mistaken for headings)::

        preformatted_blocks("Sets the buffer size in bytes. The default value is\n16384, which fits.")
        # ["Sets the buffer size in bytes. The default value is 16384, which fits."]
        preformatted_blocks("backend app\n    server s1 10.0.0.1:80 check")  # ["```\nbackend app\n..."]
    """
    text = text.strip("\n")
    if not text.strip():
        return []
    paragraphs = [p.rstrip() for p in _PARAGRAPHS.split(text) if p.strip()]
    defined = [definition_rows(p) or hanging_rows(p) for p in paragraphs]
    prose = [d is None and _reads_as_prose(p) for p, d in zip(paragraphs, defined, strict=True)]
    if not any(prose) and not any(defined):
        return [f"```\n{text}\n```"]
    blocks: list[str] = []
    code: list[str] = []
    for p, is_prose, rows in zip(paragraphs, prose, defined, strict=True):
        if not is_prose and rows is None:
            code.append(p)
            continue
        if code:
            blocks.append("```\n" + "\n\n".join(code) + "\n```")
            code = []
        blocks.append(_as_rows(rows) if rows is not None else " ".join(p.split()))
    if code:
        blocks.append("```\n" + "\n\n".join(code) + "\n```")
    return blocks


# A reference entry's "Name" section, as DocBook and man pages write it: "ST_Buffer — Computes a
# geometry ...", "CREATE TABLE — define a new table" (an em dash, "--" or " - " after the name).
_NAME_HEADING = re.compile(r"(#{1,6}) (?:name|NAME|Name)\s*")
_REFNAME = re.compile(r"(?P<name>[^\s—][^\n—]{0,79}?)\s+(?:—|--|-)\s+\S")
_REFNAME_MAX_WORDS = 6
_HEADING_BLOCK = re.compile(r"(#{1,6}) (.*)", re.DOTALL)
_MAX_HEADING_LEVEL = 6


def reference_entries(blocks: list[str]) -> list[str]:
    """``blocks`` with each reference entry's sections under its name: a "Name" heading whose
    paragraph opens "X — purpose" becomes a heading "X", and the entry's other sections
    (Synopsis, Description, Examples, ... up to the next entry or a higher heading) one level
    below it. DocBook renders every section of an entry at one level, so without this a
    "Description" would belong to no function; with it the section path reads ("ST_Buffer",
    "Description") as it reads ("ssl", ...) under a setting's term::

        reference_entries(["## Name", "ST_Buffer — Computes a buffer.", "## Description", "..."])
        # ["## ST_Buffer", "ST_Buffer — Computes a buffer.", "### Description", "..."]
    """
    out = list(blocks)
    level = 0  # the level of the entry being nested, 0 outside one
    for i, block in enumerate(blocks):
        head = _HEADING_BLOCK.fullmatch(block)
        name = _NAME_HEADING.fullmatch(block)
        if name is not None and i + 1 < len(blocks):
            ref = _REFNAME.match(blocks[i + 1])
            if ref is not None and len(ref.group("name").split()) <= _REFNAME_MAX_WORDS:
                level = len(name.group(1))
                out[i] = f"{name.group(1)} {ref.group('name').strip()}"
                continue
        if head is None or not level:
            continue
        depth = len(head.group(1))
        if depth < level or (depth == level and not is_reference_section(head.group(2))):
            # A higher heading closes the entry, and so does a section of the manual at the
            # entry's own level ("10.9. TopoGeometry Constructors" after an entry's "See Also").
            level = 0
        elif depth < _MAX_HEADING_LEVEL:
            out[i] = f"{'#' * (depth + 1)} {head.group(2)}"
    return out


def html_to_text(soup: BeautifulSoup, page: str | None = None) -> str:
    """The main content of a parsed page as Markdown-like text (not yet cleaned); ``page`` is the
    page's file name, which its links into itself may spell."""
    container = _pick_container(soup)
    # First, so that the furniture checks that read an element's subtree cost at most the cap.
    _flatten_deep(container)
    _strip_furniture(container, page)
    return _Renderer().render(container)


class HtmlLoader:
    """Loads an HTML page's main content as one document with ``#`` heading lines."""

    extensions: tuple[str, ...] = (".html", ".htm")

    def load(self, path: Path) -> list[Document]:
        """One document; title from ``<title>`` or the first ``<h1>``."""
        data = read_bytes(path)
        try:
            soup = BeautifulSoup(data, "lxml")
        except Exception as exc:
            raise LoaderError(str(path), f"cannot parse HTML ({type(exc).__name__}: {exc})") from exc
        title_tag = soup.find("title")
        title = title_tag.get_text(" ", strip=True) if isinstance(title_tag, Tag) else ""
        if not title:
            h1 = soup.find("h1")
            title = h1.get_text(" ", strip=True).replace("¶", "") if isinstance(h1, Tag) else ""
        metadata: Metadata = {}
        html_tag = soup.find("html")
        lang = html_tag.get("lang") if isinstance(html_tag, Tag) else None
        if isinstance(lang, str) and lang.strip():
            metadata["lang"] = lang.strip()
        description = soup.find("meta", attrs={"name": "description"})
        content = description.get("content") if isinstance(description, Tag) else None
        if isinstance(content, str) and content.strip():
            metadata["description"] = " ".join(content.split())
        try:
            text = clean_text(html_to_text(soup, path.name))
        except RecursionError as exc:
            raise LoaderError(str(path), "HTML is nested too deeply to render") from exc
        if not text:
            return []
        return [make_document(path, source_of(path), text, title=title, metadata=metadata, cleaned=True)]
