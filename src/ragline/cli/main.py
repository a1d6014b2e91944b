"""The ``ragline`` command line.

Examples::

    ragline ingest docs/ --collection handbook --sync
    ragline search "how do I install on linux" --mode hybrid --top-k 5
    ragline search "budget" --filter '{"year": {"$gte": 2020}}' --json
    ragline ask "How do I create a virtual environment?" --debug
    ragline stats
    ragline delete 3f2a...
    ragline export handbook /backups/handbook && ragline import /backups/handbook -c handbook2
    ragline snapshot handbook --tag before-reorg && ragline restore handbook --version before-reorg
    ragline eval beir ../shared/datasets/scifact --mode hybrid --json
    ragline eval qa ../shared/datasets/squad-v1.1-dev --limit 2000 --json
    ragline golden export golden.jsonl && ragline eval golden golden.jsonl
    ragline eval gate bench/gate/scifact-slice --baseline bench/gate/baseline.json
    ragline experiments report rerank && ragline feedback report --days 7
    ragline eval answers ragas.jsonl --collection handbook --json
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragline.cli.insights import eval_gate, eval_golden, experiments_app, feedback_app, golden_app
from ragline.cli.keys import keys_app
from ragline.cli.keys import usage as usage_command
from ragline.cli.sources import NearDuplicatesOpt, PiiOpt, sources_app
from ragline.errors import ConfigError, RaglineError
from ragline.types import DEFAULT_TENANT, Access, parse_groups

app = typer.Typer(
    name="ragline",
    help="ragline: ingest documents into a hybrid index, search it and evaluate it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
eval_app = typer.Typer(help="Evaluate retrieval quality.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.command("usage")(usage_command)
app.add_typer(sources_app, name="sources")
app.add_typer(golden_app, name="golden")
app.add_typer(experiments_app, name="experiments")
app.add_typer(feedback_app, name="feedback")
eval_app.command("golden")(eval_golden)
eval_app.command("gate")(eval_gate)
tune_app = typer.Typer(help="Adapt models to a collection.", no_args_is_help=True)
app.add_typer(tune_app, name="tune")

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where ragline keeps its data (default ./.ragline or RAGLINE_DATA_DIR)."),
]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: 'default').")
]
Mode = Literal["dense", "keyword", "hybrid"]


# Control characters but newline and tab. Rich passes ESC through, so escape sequences in user input
# or in an LLM's answer (ingest already drops them from documents) would reach the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(text: str) -> str:
    """Document or user text made safe for a terminal: control characters dropped."""
    return _CONTROL.sub("", text)


def _esc(value: object) -> str:
    """A value for a rich markup string, printed as written: a document holding "[/]" (which made
    rich raise) or "[link=...]" must neither crash nor restyle the output. Table cells too."""
    return escape(_plain(str(value)))


def _fail(exc: Exception) -> NoReturn:
    # Not wrapped at the terminal's width: a path or command in the message stays whole, to copy.
    err_console.print(f"[bold red]error:[/] {_esc(exc)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _engine(data_dir: Path | None, **settings: Any) -> Any:
    import ragline

    return ragline.open(data_dir, **settings)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=err_console,
        disable=not err_console.is_terminal and not _force_progress(),
    )


_T = TypeVar("_T")


@eval_app.command("ablate")
def eval_ablate(
    dataset_dirs: Annotated[list[Path], typer.Argument(help="BEIR-format dataset folders.")],
    split: Annotated[str, typer.Option(help="qrels split: tune on train/dev, report test.")] = "test",
    variant: Annotated[
        list[str] | None, typer.Option("--variant", help="Run only these variants (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N queries (quick checks).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown table to this file.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Measure each retrieval stage alone and the configured default: nDCG@10, Recall@100, p50."""
    from ragline.eval.ablate import render_table, run_ablation

    try:
        engine = _engine(data_dir)
        rows = _with_stage_progress(
            lambda on_progress: run_ablation(
                engine, dataset_dirs, split=split, variants=variant, limit=limit, progress=on_progress
            )
        )
    except RaglineError as exc:
        _fail(exc)
    table = render_table(rows)
    if out is not None:
        out.write_text(table + "\n", encoding="utf-8")
    if json_out:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows]))
    else:
        console.print(table, markup=False, highlight=False)


@tune_app.command("embeddings")
def tune_embeddings(
    collection: CollectionOpt = None,
    max_pairs: Annotated[int, typer.Option(min=64, help="Training pairs built from the corpus.")] = 4000,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
    batch_size: Annotated[int, typer.Option(min=2, max=512, help="In-batch negatives per step.")] = 32,
    max_seq_length: Annotated[int, typer.Option(min=16, max=512)] = 128,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """Fine-tune the embedding model on the collection's own text (no labels), save it as a new
    version and re-embed the collection with it."""
    try:
        engine = _engine(data_dir)
        report = _with_stage_progress(
            lambda on_progress: engine.tune_embeddings(
                collection,
                max_pairs=max_pairs,
                epochs=epochs,
                batch_size=batch_size,
                max_seq_length=max_seq_length,
                progress=on_progress,
            )
        )
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(report), default=str))
        return
    console.print(
        f"trained on {report.pairs_train} pairs ({report.steps} steps, {report.seconds:.0f} s); "
        f"held-out pseudo-query nDCG@10 {report.heldout_ndcg_before:.4f} -> {report.heldout_ndcg_after:.4f}; "
        f"model saved to {_esc(report.model_dir)}; collection re-embedded"
    )


@tune_app.command("answerer")
def tune_answerer(
    train_file: Annotated[Path, typer.Argument(help="JSONL: question, context, answer ('' = not answered).")],
    out: Annotated[Path, typer.Option(help="Directory to write the reader to (reader.onnx, reader.json).")],
    base_model: Annotated[
        Path | None,
        typer.Option(help="sentence-transformers BERT model to start from (default: packaged MiniLM)."),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 1,
    batch_size: Annotated[int, typer.Option(min=1, max=256)] = 32,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-2)] = 8e-5,
    max_steps: Annotated[int, typer.Option(min=0, help="Stop after this many steps (0: the epochs).")] = 0,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Save training state here every 50 steps; an existing one is resumed."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train the extractive answerer's reader on your own question/answer pairs (CPU; torch
    needed). Use it with RAGLINE_ANSWER__READER_PATH=<out>."""
    from ragline.text.tokenizer import packaged_model_dir
    from ragline.tune.reader import read_examples, train_reader

    try:
        examples = read_examples(train_file)
        report = train_reader(
            base_model or packaged_model_dir(),
            examples,
            out,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            max_steps=max_steps,
            checkpoint=checkpoint,
            checkpoint_every=50,
            meta={"trained_on": str(train_file)},
        )
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(report), default=str))
        return
    console.print(
        f"trained on {report.examples} examples ({report.windows} windows, {report.steps} steps, "
        f"{report.seconds:.0f} s, final loss {report.final_loss:.3f}); "
        f"reader saved to {_esc(report.model_dir)}; "
        f"use it with RAGLINE_ANSWER__READER_PATH={_esc(report.model_dir)}"
    )


@app.command()
def summarize(
    collection: CollectionOpt = None,
    llm: Annotated[
        bool | None,
        typer.Option("--llm/--extractive", help="Summaries by the LLM (default when configured)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Build the per-document summaries index that documents-first retrieval searches."""
    try:
        n = _engine(data_dir).summarize(collection, llm=llm)
    except RaglineError as exc:
        _fail(exc)
    console.print(f"summarised {n} documents")


def _with_stage_progress(run: Callable[[Callable[[str, int, int], None]], _T]) -> _T:
    """Run ``run(on_progress)`` under one progress bar whose description follows the stage."""
    with _progress_bar() as bar:
        task = bar.add_task("evaluating", total=None, detail="")

        def on_progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, total=total, completed=done)

        return run(on_progress)


def _force_progress() -> bool:
    import os

    return os.environ.get("RAGLINE_PROGRESS") == "1"


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    collection: CollectionOpt = None,
    sync: Annotated[
        bool, typer.Option("--sync", help="Also delete documents whose source files are gone.")
    ] = False,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Glob of files to include (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Glob of files to exclude (repeatable).")
    ] = None,
    keep_duplicates: Annotated[
        bool, typer.Option("--keep-duplicates", help="Index documents whose text duplicates another's.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    tenant: Annotated[
        str, typer.Option("--tenant", help="Tenant whose collection receives the documents.")
    ] = DEFAULT_TENANT,
    groups: Annotated[
        str,
        typer.Option(
            "--groups", help="Comma-separated groups allowed to read them; empty: the whole tenant."
        ),
    ] = "",
    clearance: Annotated[
        int, typer.Option("--clearance", min=0, max=100, help="Clearance a reader needs (0-100).")
    ] = 0,
    pii: PiiOpt = None,
    near_duplicates: NearDuplicatesOpt = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Parse, chunk and embed on Ray: 'auto' (this machine's cluster, else a local Ray) "
            "or a cluster address (host:6379, ray://host:10001); 'off': in-process. "
            "Default: ingest.ray_address.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Ingest files and folders into a collection (only changed files are re-embedded).

    With --tenant, --groups and --clearance the documents go to that tenant's collection and are
    readable only by its keys holding one of the groups and the clearance (see docs/security.md).
    """
    try:
        access = Access(tenant, parse_groups(groups), clearance)
    except ValueError as exc:
        _fail(exc)
    try:
        engine = _engine(data_dir)
        with _progress_bar() as bar:
            files = bar.add_task("files", total=None, detail="")
            chunks = bar.add_task("embedding", total=None, detail="")

            def on_progress(p: Any) -> None:
                bar.update(files, total=p.files_total, completed=p.files_done, detail=p.current)
                # A Ray ingest's counts already add up over its workers; the bar says how many.
                where = f"on {p.workers} Ray workers" if p.workers else ""
                total = p.chunks_embedded + p.chunks_pending
                bar.update(chunks, total=total, completed=p.chunks_embedded, detail=where)

            report = engine.ingest(
                paths,
                collection=collection,
                include=include or (),
                exclude=exclude or (),
                sync=sync,
                dedup=not keep_duplicates,
                progress=on_progress,
                access=access,
                pii=pii,
                near_duplicates=near_duplicates,
                ray=ray,
            )
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        out = dataclasses.asdict(report)
        out["chunks_per_second"] = report.chunks_per_second
        typer.echo(json.dumps(out))
    else:
        console.print(
            f"{report.files_seen} files: {report.files_indexed} indexed, {report.files_unchanged} unchanged, "
            f"{len(report.errors)} failed; {report.documents_indexed} documents, "
            f"{report.chunks_indexed} chunks "
            f"({report.chunks_embedded} embedded, {report.duplicates_skipped} duplicates skipped, "
            f"{report.sources_deleted} sources deleted) in {report.seconds_total:.1f}s"
        )
        if report.pii_redacted:
            found = ", ".join(f"{n} {kind}" for kind, n in sorted(report.pii_redacted.items()))
            console.print(f"PII redacted: {found}", highlight=False)
        for dup in report.near_duplicates:
            console.print(
                f"near-duplicate {_esc(dup.doc_id)} ({_esc(dup.source)}) of {_esc(dup.duplicate_of)}, "
                f"similarity {dup.similarity:.2f}: not indexed",
                highlight=False,
            )
        for path, reason in report.skipped:
            # Not loaded at all (unsupported, a FIFO, a socket...): markup off, paths are data.
            err_console.print(f"skipped {path}: {reason}", markup=False, style="yellow")
        for path, reason in report.errors:
            err_console.print(f"[yellow]skipped[/] {_esc(path)}: {_esc(reason)}", highlight=False)
    if report.errors and report.files_indexed == 0 and report.files_unchanged == 0:
        raise typer.Exit(code=1)


_EVERY = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """Seconds in an interval such as ``90``, ``30s``, ``10m``, ``1.5h`` or ``1d``."""
    m = _EVERY.match(text.strip())
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else 0.0
    if seconds < 1:
        raise ValueError(
            f"--every {text!r} is not an interval of at least 1 s; write e.g. 30s, 10m, 1h or 1d"
        )
    return seconds


def _sync_once(engine: Any, targets: list[Any], json_out: bool) -> bool:
    """Sync each (name, tenant) once, printing a line (or JSON) per source; True if all worked."""
    ok = True
    for name, tenant in targets:
        label = name if tenant == DEFAULT_TENANT else f"{tenant}/{name}"
        try:
            with _progress_bar() as bar:
                items = bar.add_task(f"{label}: items", total=None, detail="")
                chunks = bar.add_task(f"{label}: embedding", total=None, detail="")

                def on_progress(p: Any, items: Any = items, chunks: Any = chunks, bar: Any = bar) -> None:
                    bar.update(items, completed=p.files_done, detail=p.current[-60:])
                    bar.update(
                        chunks, total=p.chunks_embedded + p.chunks_pending, completed=p.chunks_embedded
                    )

                report = engine.sync_source(name, tenant=tenant, progress=on_progress)
        except RaglineError as exc:
            ok = False
            err_console.print(f"[bold red]error:[/] {_esc(label)}: {_esc(exc)}", highlight=False)
            continue
        ok = ok and not report.failed
        if json_out:
            typer.echo(json.dumps(dataclasses.asdict(report)))
            continue
        console.print(
            f"{_esc(label)} ({report.kind} -> {_esc(report.collection)}): {report.listed} listed, "
            f"{report.fetched} fetched, {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.deleted} deleted, {len(report.failed)} failed; "
            f"{report.chunks_indexed} chunks ({report.chunks_embedded} embedded) in {report.seconds:.1f}s",
            highlight=False,
        )
        for key, reason in report.failed:
            err_console.print(f"[yellow]failed[/] {_esc(key)}: {_esc(reason)}", highlight=False)
    return ok


@app.command()
def sync(
    name: Annotated[str | None, typer.Argument(help="The source to sync (default: every source).")] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="The source's tenant (default: 'default'; all without NAME)."),
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Sync again at this interval (30s, 10m, 1h) until Ctrl-C.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print each report as a JSON line.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Bring sources' changes into their collections: new and changed items are indexed, unchanged
    ones skipped (not fetched or embedded again), items gone upstream deleted."""
    import time

    try:
        interval = parse_every(every) if every is not None else None
        engine = _engine(data_dir)
        from ragline.sources import SourceRegistry

        registry = SourceRegistry(engine.settings.data_dir)
        if name is not None:
            registry.get(name, tenant or DEFAULT_TENANT)  # an unknown name fails now, not each round
    except (RaglineError, ValueError) as exc:
        _fail(exc)

    def targets() -> list[tuple[str, str]]:
        # Read each round: sources added or removed meanwhile are picked up.
        if name is not None:
            return [(name, tenant or DEFAULT_TENANT)]
        return [(d.name, d.tenant) for d in registry.list(tenant)]

    try:
        while True:
            started = time.monotonic()
            found = targets()
            if not found and interval is None:
                console.print("no sources to sync (add one with: ragline sources add NAME --type ...)")
            ok = _sync_once(engine, found, json_out)
            if interval is None:
                if not ok:
                    raise typer.Exit(code=1)
                return
            time.sleep(max(0.0, started + interval - time.monotonic()))
    except KeyboardInterrupt:
        # Each item is committed whole, so an interrupted sync resumes where it stopped.
        err_console.print("sync stopped (Ctrl-C)")
        raise typer.Exit(code=130 if interval is None else 0) from None


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    mode: Annotated[
        Mode | None, typer.Option("--mode", help="dense, keyword or hybrid (default: settings).")
    ] = None,
    filter_json: Annotated[
        str | None,
        typer.Option("--filter", help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.'),
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", "-k", min=1, help="Number of results.")] = None,
    collection: CollectionOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print results as JSON lines.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Search a collection."""
    try:
        hits = _engine(data_dir).search(
            query, mode=mode, top_k=top_k, filters=filter_json, collection=collection
        )
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps([hit_to_json(h) for h in hits]))
        return
    if not hits:
        console.print("no results")
        return
    for i, h in enumerate(hits, 1):
        c = h.chunk
        where = f"{Path(c.source).name}" + (f" p.{c.metadata['page']}" if "page" in c.metadata else "")
        ranks = ", ".join(f"{n} #{s.rank}" for n, s in h.retrievers.items())
        head = f"[bold]{i}.[/] [cyan]{_esc(where)}[/] [dim]{_esc(c.header)}[/]"
        console.print(f"{head}  score={h.score:.4f} ({ranks})", highlight=False)
        snippet = _plain(" ".join(c.text.split()))
        console.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}", markup=False, highlight=False)


def hit_to_json(h: Any) -> dict[str, Any]:
    c = h.chunk
    return {
        "score": h.score,
        "retrievers": {n: {"rank": s.rank, "score": s.score} for n, s in h.retrievers.items()},
        "chunk_id": c.id,
        "doc_id": c.doc_id,
        "source": c.source,
        "title": c.title,
        "section": c.section,
        "start": c.start,
        "end": c.end,
        "parent_id": c.parent_id,
        "metadata": c.metadata,
        "text": c.text,
    }


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer from the indexed documents.")],
    filter_json: Annotated[
        str | None,
        typer.Option("--filter", help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.'),
    ] = None,
    collection: CollectionOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the answer as one JSON object.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Also show the retrieved hits with scores and the final prompt.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Answer a question with citations; streams the answer, then lists the sources."""
    from ragline.types import Final, Restart, Token

    try:
        engine = _engine(data_dir)
        events = engine.ask(question, filters=filter_json, collection=collection, stream=True, debug=debug)
        answer = None
        for event in events:
            if isinstance(event, Token) and not json_out:
                sys.stdout.write(_plain(event.text))
                sys.stdout.flush()
            elif isinstance(event, Restart) and not json_out:
                sys.stdout.write("\n")
                err_console.print(f"[yellow]restarting:[/] {_esc(event.reason)}", highlight=False)
            elif isinstance(event, Final):
                answer = event.answer
    except RaglineError as exc:
        _fail(exc)
    assert answer is not None
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(answer), default=str))
        return
    sys.stdout.write("\n")
    if answer.short is not None:
        short = answer.short
        console.print(f"\n[bold]Short answer:[/] {_esc(short.text)} [{short.n}]", highlight=False)
    if answer.citations:
        console.print("\n[bold]Sources[/]")
    for c in answer.citations:
        where = Path(c.source).name + (f" p.{c.page}" if c.page is not None else "")
        section = " > ".join(c.section_path)
        console.print(
            f"[bold][{c.n}][/] [cyan]{_esc(where)}[/] [dim]{_esc(section)}[/] chars {c.start}-{c.end}"
        )
    usage = answer.usage
    cost = f", ${usage.cost_usd:.6f}" if usage.cost_usd is not None else ""
    tokens = f", {usage.prompt_tokens}+{usage.completion_tokens} tokens{cost}" if usage.model else ""
    err_console.print(
        f"[dim]{answer.mode}{' (abstained)' if answer.abstained else ''}, confidence "
        f"{answer.confidence:.2f}, {answer.timings_ms.get('total', 0):.0f} ms{tokens}, "
        f"trace {_esc(answer.trace_id)}[/]"
    )
    for err in answer.errors:
        err_console.print(f"[yellow]degraded:[/] {_esc(err)}", highlight=False)
    if debug and answer.debug is not None:
        err_console.print("\n[bold]Hits[/]")
        for i, h in enumerate(answer.debug.hits, 1):
            ranks = ", ".join(f"{n} #{s.rank} {s.score:.4f}" for n, s in h.retrievers.items())
            err_console.print(
                f"{i}. {_esc(h.chunk.id)} {_esc(Path(h.chunk.source).name)} score={h.score:.4f} ({ranks})"
            )
        err_console.print("\n[bold]Prompt[/]")
        err_console.print(_plain(answer.debug.prompt), markup=False, highlight=False)


@app.command()
def stats(
    collection: CollectionOpt = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show what a collection holds."""
    try:
        s = _engine(data_dir).stats(collection)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(s)))
        return
    t = Table(title=f"collection {_esc(s.name)}", show_header=False)
    for k, v in dataclasses.asdict(s.store).items():
        t.add_row(_esc(k), _esc(v))
    t.add_row("path", _esc(s.path))
    console.print(t)


@app.command("migrate-tenants")
def migrate_tenants(data_dir: DataDir = None) -> None:
    """Move each tenant's documents into its own namespace (data directories from before tenant
    namespaces kept every tenant's documents in one collection). Safe to run again."""
    try:
        moved = _engine(data_dir).migrate_tenants(progress=lambda line: console.print(_esc(line)))
    except RaglineError as exc:
        _fail(exc)
    if not moved:
        console.print("nothing to move: every collection holds only its own tenant's documents")
    for tenant, chunks in sorted(moved.items()):
        console.print(f"tenant {_esc(tenant)}: {chunks} chunks in its own collections")


TenantOpt = Annotated[
    str, typer.Option("--tenant", help="Tenant whose collection it is (default: 'default').")
]


def _counts_line(what: str, c: Any) -> str:
    return (
        f"{what} {c.chunks} chunks of {c.documents} documents from {c.sources} sources "
        f"({c.sections} sections, {c.sentence_vectors} with sentence vectors, "
        f"{c.token_states} with token states)"
    )


@app.command("export")
def export_cmd(
    collection: Annotated[str, typer.Argument(help="Collection to export.")],
    path: Annotated[Path, typer.Argument(help="New directory to write the export to.")],
    tenant: TenantOpt = DEFAULT_TENANT,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Export a collection (texts, metadata, access, vectors, sections, summaries) to a portable
    directory that `ragline import` loads without embedding anything (docs/export-format.md)."""
    try:
        report = _engine(data_dir).export_collection(collection, path, tenant=tenant)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(report)))
        return
    console.print(_esc(_counts_line(f"exported {collection!r} to {report.path}:", report.counts)))
    if report.summaries is not None:
        console.print(_esc(_counts_line("  and its summaries index:", report.summaries)))


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="Directory written by `ragline export`.")],
    collection: Annotated[
        str | None,
        typer.Option("--collection", "-c", help="Collection to create (default: the exported name)."),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Tenant that receives it (default: the one it was exported from)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Import an export into a new collection; nothing is embedded (same embedding model needed)."""
    try:
        report = _engine(data_dir).import_collection(path, collection=collection, tenant=tenant)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(dataclasses.asdict(report)))
        return
    where = report.collection + (f" (tenant {report.tenant})" if report.tenant != DEFAULT_TENANT else "")
    console.print(_esc(_counts_line(f"imported into {where}:", report.counts)))
    if report.summaries is not None:
        console.print(_esc(_counts_line("  and its summaries index:", report.summaries)))
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {_esc(note)}", highlight=False)


def _versions_table(name: str, versions: list[Any], show: int) -> Table:
    t = Table(title=f"versions of {_esc(name)}")
    for col in ("version", "written (UTC)", "chunks", "tags"):
        t.add_column(col)
    shown = [v for i, v in enumerate(versions) if v.tags or i >= len(versions) - show]
    for v in shown:
        t.add_row(
            str(v.version),
            v.timestamp.isoformat(sep=" ", timespec="seconds"),
            str(v.chunks),
            _esc(", ".join(v.tags)),
        )
    return t


@app.command()
def snapshot(
    collection: Annotated[str, typer.Argument(help="Collection to snapshot.")],
    tag: Annotated[
        str | None, typer.Option("--tag", help="Name of the snapshot (default: snapshot-<version>).")
    ] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Only list versions and snapshots.")] = False,
    delete: Annotated[
        str | None,
        typer.Option("--delete", help="Remove this snapshot tag instead (its version may then go)."),
    ] = None,
    show: Annotated[int, typer.Option("--show", min=1, help="Latest untagged versions listed.")] = 10,
    tenant: TenantOpt = DEFAULT_TENANT,
    json_out: Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Tag the collection's current version (kept until untagged, whatever store.retention_days)
    and list its versions: what `ragline restore --version` accepts."""
    try:
        engine = _engine(data_dir)
        if delete is not None:
            engine.delete_snapshot(collection, delete, tenant=tenant)
        tagged = None if list_only or delete is not None else engine.snapshot(collection, tag, tenant=tenant)
        versions = engine.versions(collection, tenant=tenant)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps([dataclasses.asdict(v) for v in versions], default=str))
        return
    console.print(_versions_table(collection, versions, show))
    if tagged is not None:
        console.print(f"tagged version {tagged.version} as {_esc(', '.join(tagged.tags))}")
    if delete is not None:
        console.print(f"removed snapshot tag {_esc(delete)}")


@app.command()
def restore(
    collection: Annotated[str, typer.Argument(help="Collection to restore.")],
    version: Annotated[str, typer.Option("--version", help="Version number or snapshot tag to bring back.")],
    tenant: TenantOpt = DEFAULT_TENANT,
    data_dir: DataDir = None,
) -> None:
    """Make an earlier version of a collection current again (as a new version, so it can be
    undone); see `ragline snapshot --list` for the versions kept."""
    try:
        now = _engine(data_dir).restore(collection, version, tenant=tenant)
    except RaglineError as exc:
        _fail(exc)
    console.print(
        f"restored {_esc(collection)} to version {_esc(version)} "
        f"as new version {now.version} ({now.chunks} chunks)"
    )


@app.command()
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to delete.")],
    collection: CollectionOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Delete documents by id."""
    try:
        n = _engine(data_dir).delete(doc_ids, collection=collection)
    except RaglineError as exc:
        _fail(exc)
    if n == 0:
        err_console.print(
            f"no document with id {_esc(', '.join(doc_ids))}; see `ragline search --json` for ids",
            highlight=False,
        )
        raise typer.Exit(code=1)
    console.print(f"deleted {n} chunks")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port, 8000).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the HTTP API, the OpenAI-compatible endpoint, the web UI and MCP at /mcp."""
    _serve(host, port, data_dir, "UI at /, API docs at /v1/docs, MCP at /mcp")


def _serve(host: str | None, port: int | None, data_dir: Path | None, what: str) -> None:
    import uvicorn

    from ragline.server.app import create_app
    from ragline.server.observability import setup_logging
    from ragline.settings import load_settings

    try:
        settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    except RaglineError as exc:
        _fail(exc)
    s = settings.server
    setup_logging(s.json_logs)
    app_ = create_app(settings)
    host, port = host or s.host, port if port is not None else s.port
    err_console.print(
        f"ragline serving {_esc(settings.data_dir)} on http://{_esc(host)}:{port}"
        f" ({what}{', auth OFF' if not s.auth else ''})"
    )
    uvicorn.run(app_, host=host, port=port, log_config=None)


@app.command()
def mcp(
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="RAGLINE_API_KEY",
            show_envvar=True,
            help="API key whose tenant, groups and clearance every call uses (needed while auth is on).",
        ),
    ] = None,
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve MCP over streamable HTTP at http://HOST:PORT/mcp (each request's key in "
            "Authorization: Bearer, as the HTTP API) instead of stdio; the service's other routes run too.",
        ),
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="--http: interface to bind (default: server.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="--http: port (default: server.port).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve MCP (Model Context Protocol): search, ask, list collections and read spans. On
    stdin/stdout for an MCP client that starts this command, or with --http over streamable HTTP
    (the same as `ragline serve`, which answers MCP at /mcp)."""
    if http:
        if key is not None:
            _fail(ConfigError("--key is for stdio; over --http each request sends its key as a Bearer token"))
        _serve(host, port, data_dir, "MCP at /mcp")
        return
    if host is not None or port is not None:
        _fail(ConfigError("--host and --port need --http (stdio has no address)"))
    try:
        from ragline.server.mcp_server import run_stdio, stdio_caller
    except ImportError as exc:
        _fail(RaglineError(f"MCP is not installed ({exc}); pip install 'ragline[mcp]'"))
    from ragline.engine import Engine
    from ragline.server.observability import setup_logging
    from ragline.service_state import open_state
    from ragline.settings import load_settings

    # stdout carries the protocol: every log line goes to stderr, and only warnings.
    setup_logging(json_logs=False, level=logging.WARNING)
    state = None
    try:
        settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
        if settings.server.auth:
            s = settings.server
            state = open_state(s.state_url, settings.data_dir, timeout_s=s.state_timeout_s)
        caller = stdio_caller(settings, state, key)
        engine = Engine(settings)
    except RaglineError as exc:
        if state is not None:
            state.close()
        _fail(exc)
    try:
        run_stdio(engine, caller)
    finally:
        if state is not None:
            state.close()


@eval_app.command("beir")
def eval_beir(
    dataset_dir: Annotated[
        Path, typer.Argument(help="BEIR-format dataset folder (corpus.jsonl, queries.jsonl, qrels/).")
    ],
    mode: Annotated[
        Mode | None, typer.Option("--mode", help="dense, keyword or hybrid (default: settings).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="qrels split to evaluate.")] = "test",
    ignore_identical_ids: Annotated[
        bool,
        typer.Option(
            "--ignore-identical-ids/--keep-identical-ids",
            help="Drop hits whose id equals the query id (BEIR default).",
        ),
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Ingest a BEIR dataset into its own collection and report nDCG@10, Recall@10/100, MRR@10, MAP@100."""
    from ragline.eval.runner import run_beir

    try:
        engine = _engine(data_dir)
        result = _with_stage_progress(
            lambda on_progress: run_beir(
                engine,
                dataset_dir,
                mode=mode,
                split=split,
                ignore_identical_ids=ignore_identical_ids,
                progress=on_progress,
            )
        )
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(result.as_json()))
        return
    t = Table(title=_esc(f"{result.dataset} ({result.split}, {result.queries} queries, mode={result.mode})"))
    for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"):
        t.add_column(k)
    t.add_row(
        *(f"{result.metrics[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"))
    )
    console.print(t)
    console.print(
        f"ingest: {result.ingest.chunks_indexed} chunks indexed, {result.ingest.chunks_embedded} embedded, "
        f"{result.ingest.seconds_total:.1f}s; search p50 {result.search_p50_ms:.1f} ms, "
        f"p95 {result.search_p95_ms:.1f} ms"
    )


@eval_app.command("qa")
def eval_qa(
    dataset_dir: Annotated[
        Path,
        typer.Argument(help="SQuAD-format dataset folder (corpus.jsonl, queries.jsonl, answers.jsonl)."),
    ],
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Questions asked on each index (full and partial).")
    ] = 2000,
    split: Annotated[
        Literal["test", "calibration"],
        typer.Option("--split", help="test (articles % 4 in 2, 3) or calibration (% 4 in 0, 1)."),
    ] = "test",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Answer SQuAD questions: context recall by budget, EM/F1, abstention and its threshold sweep."""
    from ragline.eval.qa import run_qa

    try:
        engine = _engine(data_dir)
        result = _with_stage_progress(
            lambda on_progress: run_qa(engine, dataset_dir, limit=limit, split=split, progress=on_progress)
        )
    except RaglineError as exc:
        _fail(exc)
    out = result.as_json()
    if json_out:
        typer.echo(json.dumps(out))
        return
    t = Table(title=_esc(f"{result.dataset} ({result.split}, {result.questions} questions)"))
    t.add_column("measure")
    t.add_column("value", justify="right")
    rates = (
        "em",
        "f1",
        "f1_answered",
        "answer_recall",
        "abstain_rate",
        "short_rate",
        "citation_precision",
        "citation_recall",
    )
    for k in [f"context_recall@{b}" for b in result.context_recall] + list(rates):
        t.add_row(k, f"{out[k]:.4f}")
    t.add_row("ask p50 / p95 ms", f"{result.ask_p50_ms:.1f} / {result.ask_p95_ms:.1f}")
    t.add_row("stage p50 ms", ", ".join(f"{s} {ms:.1f}" for s, ms in result.stage_p50_ms.items()))
    console.print(t)
    a = Table(title=f"abstention ({result.abstention_questions} questions on the partial index)")
    for col in ("threshold", "precision", "recall", "f1", "best threshold (max f1)"):
        a.add_column(col, justify="right")
    a.add_row(
        f"{result.threshold:.2f}",
        f"{result.abstention.precision:.4f}",
        f"{result.abstention.recall:.4f}",
        f"{result.abstention.f1:.4f}",
        f"{result.best_threshold:.2f}",
    )
    console.print(a)


@eval_app.command("answers")
def eval_answers(
    dataset_file: Annotated[
        Path,
        typer.Argument(help="RAGAS-style .jsonl/.json file (question, ground_truth, contexts, answer)."),
    ],
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            "-c",
            help="Answer every question from this collection (else score rows as given).",
        ),
    ] = None,
    judge: Annotated[
        Literal["offline", "llm"],
        typer.Option(
            "--judge", help="Support judge: the offline score, or the configured LLM (llm.base_url)."
        ),
    ] = "offline",
    k: Annotated[
        list[int] | None, typer.Option("--k", min=1, help="Cutoffs for hit@k and precision@k.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Answer metrics: citation precision/recall (ALCE), faithfulness, answer relevance, context
    precision/recall, hit@k and precision@k."""
    from ragline.eval.answers import DEFAULT_K, run_answers

    try:
        engine = _engine(data_dir)
        result = _with_stage_progress(
            lambda on_progress: run_answers(
                engine,
                dataset_file,
                collection=collection,
                judge=judge,
                k_values=tuple(k) if k else DEFAULT_K,
                progress=on_progress,
            )
        )
    except RaglineError as exc:
        _fail(exc)
    out = result.as_json()
    if json_out:
        typer.echo(json.dumps(out))
        return
    t = Table(title=_esc(f"{result.dataset} ({result.rows} rows, {result.source}, judge={result.judge})"))
    t.add_column("measure")
    t.add_column("value", justify="right")
    for name, value in result.means.items():
        t.add_row(name, "n/a" if value is None else f"{value:.4f}")
    console.print(t)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
