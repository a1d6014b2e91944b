"""`make demo`: ingest the bundled demo corpus (Python and pip documentation), search it, and
answer four questions with citations (offline extractive answerer).

Run from the repository root: ``.venv/bin/python demo/run_demo.py``. Data goes to
``.ragline/`` (the default data directory), collection ``demo``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

import ragline
from ragline.errors import RaglineError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
# Three the documents answer (the last with a short answer beside its sentence) and one they
# don't (the answerer should abstain on it).
QUESTIONS = [
    "How do I create a virtual environment?",
    "What does the with statement do?",
    "Which file does pip install read requirements from?",
    "Who won the 2018 football World Cup?",
]


def main() -> int:
    console = Console()
    engine = ragline.open(Path(".ragline"))
    console.print(f"[bold]Ingesting[/] {CORPUS} into collection 'demo' (first run embeds ~1,500 chunks)...")
    try:
        report = engine.ingest([CORPUS / "python-docs", CORPUS / "pip-docs"], collection="demo", sync=True)
    except RaglineError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    console.print(
        f"{report.files_seen} files ({report.files_indexed} indexed, {report.files_unchanged} unchanged), "
        f"{report.chunks_indexed} chunks, {report.chunks_embedded} embedded, "
        f"{len(report.errors)} errors, {report.seconds_total:.1f}s"
    )
    for path, reason in report.errors:
        console.print(f"[yellow]skipped[/] {path}: {reason}")
    queries = [q.strip() for q in (CORPUS / "QUERIES.txt").read_text().splitlines() if q.strip()]
    for q in queries:
        console.rule(f"[bold]{q}")
        for i, hit in enumerate(engine.search(q, collection="demo", top_k=3), 1):
            c = hit.chunk
            rel = Path(c.source).relative_to(CORPUS) if c.source.startswith(str(CORPUS)) else c.source
            console.print(f"[bold]{i}.[/] [cyan]{rel}[/] [dim]{c.header}[/] (score {hit.score:.4f})")
            console.print("   " + " ".join(c.text.split())[:240])
    for q in QUESTIONS:
        console.rule(f"[bold]Q: {q}")
        answer = engine.ask(q, collection="demo")
        console.print(answer.text)
        if answer.short is not None:
            short = answer.short
            console.print(f"[bold]Short answer:[/] {escape(short.text)} [{short.n}]", highlight=False)
        for c in answer.citations:
            rel = Path(c.source).relative_to(CORPUS) if c.source.startswith(str(CORPUS)) else c.source
            section = " > ".join(c.section_path)
            console.print(f"  [bold][{c.n}][/] [cyan]{rel}[/] [dim]{section}[/] chars {c.start}-{c.end}")
        console.print(
            f"[dim]{answer.mode}{', abstained' if answer.abstained else ''}, confidence "
            f"{answer.confidence:.2f}, {answer.timings_ms['total']:.0f} ms[/]"
        )
    stats = engine.stats("demo").store
    console.rule()
    console.print(
        f"collection 'demo': {stats.documents} documents, {stats.chunks} chunks, "
        f"{stats.disk_bytes / 1e6:.1f} MB"
    )
    console.print('Try: .venv/bin/ragline search "how do I install pip" --collection demo')
    console.print('     .venv/bin/ragline ask "How do I read a file line by line?" --collection demo --debug')
    return 0


if __name__ == "__main__":
    sys.exit(main())
