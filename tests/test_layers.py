"""The import contract: a package imports only what its row of docs/architecture.md allows.

The source of truth is the table "Packages and what they may import" in docs/architecture.md:
rows run from the ground floor up; the first column names the packages (`query/`, `engine.py`),
the last what they may import: packages (`store`) or single modules (`store.base`), "nothing", or
"everything below" (every package of an earlier row). A row may only name rows above it, so the
table itself is a stack of floors with no cycle, and an import the table does not allow is an
upward (or sideways) import.

Every ``ragline`` import counts: ``import``/``from`` statements, relative ones, those inside
functions, and those under ``if TYPE_CHECKING:``. A type-only import is still a dependency of the
design (the lower package must know the upper one's types), so it is held to the same table.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ragline"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
TABLE_TITLE = "## Packages and what they may import"
# The root module (src/ragline/__init__.py) is named `__init__.py` in the table.
ROOT_PACKAGE = "__init__"


@dataclass(frozen=True)
class Row:
    """One row of the table: its packages and the entries (packages or `pkg.module`) they may import."""

    packages: tuple[str, ...]
    allowed: frozenset[str]


def _names(cell: str) -> list[str]:
    return [n.removesuffix("/").removesuffix(".py") for n in re.findall(r"`([^`]+)`", cell)]


def parse_table(markdown: str) -> list[Row]:
    """The rows of the table under :data:`TABLE_TITLE`, ground floor first, with "everything
    below" expanded. Raises ``ValueError`` naming the row when a row is malformed."""
    _, found, rest = markdown.partition(TABLE_TITLE)
    if not found:
        raise ValueError(f"no {TABLE_TITLE!r} section in docs/architecture.md")
    lines = rest.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.startswith("|")), len(lines))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    if len(table) < 3:
        raise ValueError(f"no table under {TABLE_TITLE!r}: expected a header, a |---| line and rows")
    rows: list[Row] = []
    below: set[str] = set()
    for line in table[2:]:  # header and |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        packages, last = _names(cells[0]), cells[-1]
        if not packages:
            raise ValueError(f"row {line!r}: the first column names no package in backticks")
        if last == "nothing":
            allowed: set[str] = set()
        elif last == "everything below":
            allowed = set(below)
        else:
            allowed = set(_names(last))
            if not allowed:
                raise ValueError(
                    f"row {line!r}: the last column must list `packages`, say 'nothing' or 'everything below'"
                )
            upward = sorted(a for a in allowed if a.split(".")[0] not in below)
            if upward:
                raise ValueError(
                    f"row {line!r} allows {upward}, which are not in an earlier row: a row may only "
                    "name the floors below it (move the row up or the named package down)"
                )
        rows.append(Row(tuple(packages), frozenset(allowed)))
        below.update(packages)
    return rows


@dataclass(frozen=True)
class Module:
    """A ragline module: its dotted name, whether it is a package's ``__init__``, and its source."""

    name: str
    is_package: bool
    source: str
    path: str


def package_of(module: str) -> str:
    """The table's name for the package holding ``module``: ``ragline.query.prf`` -> ``query``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT_PACKAGE


def ragline_imports(mod: Module, known: set[str]) -> list[tuple[str, int]]:
    """Every ``ragline.*`` module ``mod`` imports, with its line, wherever the statement sits.

    ``from ragline.x import y`` imports ``ragline.x.y`` when that is a module, else ``ragline.x``.
    """
    found: list[tuple[str, int]] = []
    here = mod.name.split(".") if mod.is_package else mod.name.split(".")[:-1]
    for node in ast.walk(ast.parse(mod.source, filename=mod.path)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here[: len(here) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in known else base, node.lineno))
    wanted = {(name, line) for name, line in found if name == "ragline" or name.startswith("ragline.")}
    return sorted(wanted, key=lambda t: (t[1], t[0]))


def _allows(entry: str, target: str) -> bool:
    """Whether a table entry (`store` or `store.base`) covers the imported module ``target``."""
    if entry == ROOT_PACKAGE:
        return target == "ragline"
    dotted = f"ragline.{entry}"
    return target == dotted or target.startswith(dotted + ".")


def violations(modules: list[Module], rows: list[Row]) -> list[str]:
    """One message per import the table does not allow, and per package the table lacks."""
    allowed = {p: row.allowed for row in rows for p in row.packages}
    known = {m.name for m in modules}
    out: list[str] = []
    for pkg in sorted({package_of(m.name) for m in modules} - set(allowed)):
        out.append(f"package {pkg!r} has no row in the table: add one saying what it may import")
    for mod in modules:
        pkg = package_of(mod.name)
        if pkg not in allowed:
            continue
        for target, line in ragline_imports(mod, known):
            if package_of(target) == pkg:
                continue
            if not any(_allows(entry, target) for entry in allowed[pkg]):
                out.append(
                    f"{mod.path}:{line}: {pkg} imports {target}, which its row does not allow "
                    f"(it may import: {', '.join(sorted(allowed[pkg])) or 'nothing'})"
                )
    return out


def load_modules(src: Path) -> list[Module]:
    """Every module under ``src`` (the ``ragline`` package directory), named as Python imports it."""
    modules = []
    for path in sorted(src.rglob("*.py")):
        parts = ["ragline", *path.relative_to(src).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules.append(Module(name, is_package, path.read_text(), str(path.relative_to(src.parents[1]))))
    return modules


# -- the contract --------------------------------------------------------------------------------


def test_no_package_imports_what_the_architecture_table_forbids() -> None:
    rows = parse_table(ARCHITECTURE.read_text())
    found = violations(load_modules(SRC), rows)
    assert not found, "imports the layering forbids:\n" + "\n".join(found)


def test_every_module_entry_in_the_table_exists() -> None:
    known = {m.name for m in load_modules(SRC)}
    for row in parse_table(ARCHITECTURE.read_text()):
        for entry in row.allowed | set(row.packages):
            name = "ragline" if entry == ROOT_PACKAGE else f"ragline.{entry}"
            assert name in known, f"the table names `{entry}`, which is no ragline module or package"


# -- the checker itself, on synthetic modules ----------------------------------------------------

_TABLE = f"""{TABLE_TITLE}

Rows run from the ground floor up.

| package | holds | may import |
|---|---|---|
| `errors`, `types` | ground | nothing |
| `text/` | shared text | `errors` |
| `store/` | storage | `errors`, `text` |
| `query/` | queries | `errors`, `store.base` |
| `engine.py` | wiring | everything below |

## Next section
"""


def _mod(name: str, source: str, *, is_package: bool = False) -> Module:
    return Module(name, is_package, source, name.replace(".", "/") + ".py")


def test_table_parsing_expands_everything_below_and_strips_suffixes() -> None:
    rows = parse_table(_TABLE)
    assert [r.packages for r in rows] == [("errors", "types"), ("text",), ("store",), ("query",), ("engine",)]
    assert rows[0].allowed == frozenset()
    assert rows[3].allowed == {"errors", "store.base"}
    assert rows[4].allowed == {"errors", "types", "text", "store", "query"}


def test_a_row_naming_a_floor_above_it_is_rejected() -> None:
    bad = _TABLE.replace("| shared text | `errors` |", "| shared text | `errors`, `query` |")
    with pytest.raises(ValueError, match=r"allows \['query'\], which are not in an earlier row"):
        parse_table(bad)


@pytest.mark.parametrize(
    "source",
    [
        "from ragline.query import auto_filters\n",  # a module, through from-import
        "from ragline.query.auto_filters import extract\n",
        "import ragline.query.auto_filters\n",
        "from ..query import auto_filters\n",  # relative
        "def f() -> None:\n    from ragline.query.auto_filters import extract\n",  # inside a function
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ragline.query import auto_filters\n",
    ],
)
def test_an_upward_import_is_reported_with_file_and_target(source: str) -> None:
    modules = [
        _mod("ragline.text", "", is_package=True),
        _mod("ragline.text.words", source),
        _mod("ragline.query", "", is_package=True),
        _mod("ragline.query.auto_filters", "def extract() -> None: ...\n"),
    ]
    found = violations(modules, parse_table(_TABLE))
    assert len(found) == 1
    assert found[0].startswith("ragline/text/words.py:")
    assert "text imports ragline.query.auto_filters, which its row does not allow" in found[0]


def test_a_module_entry_allows_that_module_only() -> None:
    modules = [
        _mod("ragline.store", "", is_package=True),
        _mod("ragline.store.base", ""),
        _mod("ragline.store.lance", ""),
        _mod("ragline.query.prf", "from ragline.store.base import X\nfrom ragline.store import lance\n"),
        _mod("ragline.query.llm", "from ragline.store import Store\n"),  # the package's __init__
        _mod("ragline.engine", "import ragline.query.prf\nfrom ragline.store.lance import L\n"),
        _mod("ragline.errors", ""),
        _mod("ragline.types", "from .errors import E\n"),  # sideways inside the ground row
    ]
    found = violations(modules, parse_table(_TABLE))
    assert len(found) == 3, found
    assert "query imports ragline.store.lance" in found[0]
    assert "query imports ragline.store," in found[1]
    assert "types imports ragline.errors" in found[2]


def test_a_package_without_a_row_is_reported() -> None:
    found = violations([_mod("ragline.cache.disk", "")], parse_table(_TABLE))
    assert found == ["package 'cache' has no row in the table: add one saying what it may import"]
