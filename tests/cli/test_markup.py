"""Document and user text holding rich markup (``[/]``, ``[bold]``, ``[link=...]``) is printed
verbatim by every human-readable CLI output, never interpreted (``[/]`` used to crash ``search``); no
escape sequence (ingest drops them from documents; user input may hold them) reaches the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app

pytestmark = pytest.mark.integration
runner = CliRunner()

TITLE = "Vault [/] notes [bold]x"
SECTION = "The [link=https://evil.example]vault[/link] section"
FACT = "The vault door code is kept in the [/] safe beside the [bold]red[/bold] lever [link=https://evil.example]here[/link]."
DOC = f"# {TITLE}\n\n## {SECTION}\n\n{FACT} The vault door opens with a brass key.\n"
# Terminal escape sequences: clear the screen, red text.
ANSI = "\x1b[2J\x1b[31m"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "a[/]b" is the folder "a[" holding "]b": every path printed holds "[/]" too.
    root = tmp_path_factory.mktemp("markup") / "a[" / "]b"
    docs = root / "docs [bold]"
    docs.mkdir(parents=True)
    (docs / "vault [italic].md").write_text(DOC, encoding="utf-8")
    (docs / "broken [bold].pdf").write_bytes(b"%PDF-1.4 [/] not really a pdf")
    res = runner.invoke(app, ["ingest", str(docs), "--data-dir", str(root / "data")])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "broken [bold].pdf: corrupt" in " ".join(res.output.split()), res.output
    return root / "data"


def test_search_prints_markup_verbatim(data: Path) -> None:
    res = runner.invoke(app, ["search", "vault door code safe", "--data-dir", str(data), "-k", "2"])
    assert res.exit_code == 0, (res.output, res.exception)
    out = " ".join(res.stdout.split())
    assert "vault [italic].md" in out
    assert f"{TITLE} > {SECTION}" in out
    assert FACT in out


def test_ask_prints_markup_verbatim(data: Path) -> None:
    res = runner.invoke(app, ["ask", "Where is the vault door code kept?", "--data-dir", str(data)])
    assert res.exit_code == 0, (res.output, res.exception)
    sources = " ".join(res.stdout.partition("Sources")[2].split())
    assert sources.startswith(f"[1] vault [italic].md {TITLE} > {SECTION} chars "), sources
    debug = runner.invoke(
        app, ["ask", "Where is the vault door code kept?", "--data-dir", str(data), "--debug"]
    )
    assert debug.exit_code == 0, (debug.output, debug.exception)
    hits = " ".join(debug.output.partition("Hits")[2].partition("Prompt")[0].split())
    assert re.match(r"1\. [0-9a-f]+ vault \[italic\]\.md score=", hits), hits


def test_stats_delete_and_errors_print_markup_verbatim(data: Path) -> None:
    stats = runner.invoke(app, ["stats", "--data-dir", str(data)])
    assert stats.exit_code == 0, (stats.output, stats.exception)
    assert "a[/]b" in "".join(stats.stdout.split())

    gone = runner.invoke(app, ["delete", f"[/]no-such [bold]doc{ANSI}", "--data-dir", str(data)])
    assert gone.exit_code == 1, (gone.output, gone.exception)
    assert "no document with id [/]no-such [bold]doc[2J[31m;" in gone.output

    # The error names the bad value as typed.
    bad = runner.invoke(
        app, ["search", "vault", "--data-dir", str(data), "--filter", '{"[/]x\\u001b[2J": 1}']
    )
    assert bad.exit_code == 2, (bad.output, bad.exception)
    assert "error: field name '[/]x\\x1b[2J' is invalid" in " ".join(bad.output.split())
    assert "\x1b" not in gone.output + bad.output
