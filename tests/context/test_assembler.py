"""ContextAssembler over the store twin (and, for the parent and invariant tests, LanceDB too)
holding a hand-made document."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ragline.context.assembler import ContextAssembler
from ragline.errors import ConfigError
from ragline.store.base import SourceBatch, Store
from ragline.store.lance import LanceStore
from ragline.store.memory import MemoryStore
from ragline.testing.doubles import WordCounter
from ragline.text.sentences import sentence_spans
from ragline.types import Chunk, Context, Hit, Section

# 24 sentences; each chunk holds 3 of them and overlaps the next by one sentence.
SENTENCES = [f"Sentence number {i} talks about topic {chr(65 + i)} at some length." for i in range(24)]
DOC = " ".join(SENTENCES)


def sentence_offsets() -> list[tuple[int, int]]:
    return sentence_spans(DOC)


def build_chunks(doc_id: str = "doc1", parents: bool = False) -> tuple[list[Chunk], list[Section]]:
    spans = sentence_offsets()
    chunks, sections = [], []
    if parents:
        for p in range(4):
            a, b = spans[p * 6][0], spans[p * 6 + 5][1]
            sections.append(
                Section(id=f"sec{p}", doc_id=doc_id, text=DOC[a:b], start=a, end=b, section_path=("S",))
            )
    for pos, first in enumerate(range(0, len(spans) - 2, 2)):
        a, b = spans[first][0], spans[first + 2][1]
        chunks.append(
            Chunk(
                id=f"{doc_id}-c{pos}",
                doc_id=doc_id,
                text=DOC[a:b],
                position=pos,
                start=a,
                end=b,
                section_path=("Guide", "Part"),
                parent_id=f"sec{first // 6}" if parents else None,
                metadata={"page": 1 + pos // 4},
                source="/docs/guide.md",
                title="Guide",
            )
        )
    return chunks, sections


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The document in a MemoryStore, or in a LanceStore when parametrized with "lance"."""
    backend = getattr(request, "param", "memory")
    s: Store
    if backend == "lance":
        s = LanceStore(tmp_path / "col", dimension=8, model_id="test")
    else:
        s = MemoryStore(tmp_path / "col", dimension=8, model_id="test", persist=False)
    chunks, sections = build_chunks(parents=True)
    vecs = np.random.default_rng(0).normal(size=(len(chunks), 8)).astype(np.float32)
    s.upsert([SourceBatch("/docs/guide.md", "h", chunks, vecs, sections)])
    s.finalize()
    return s


def hits_for(positions: list[int], chunks: list[Chunk] | None = None) -> list[Hit]:
    chunks = chunks or build_chunks(parents=True)[0]
    return [Hit(chunk=chunks[p], score=1.0 / (i + 1)) for i, p in enumerate(positions)]


def check_invariants(ctx: Context, budget: int) -> None:
    assert ctx.tokens <= budget
    assert ctx.tokens == sum(p.tokens for p in ctx.passages)
    spans = sorted((p.start, p.end) for p in ctx.passages)
    for (_, b1), (a2, _) in itertools.pairwise(spans):
        assert b1 < a2, "passages of one document must not overlap"
    for p in ctx.passages:
        assert p.text == DOC[p.start : p.end]
        assert p.text == p.text.strip()
        assert p.chunks, "every passage names the chunks it came from"


def test_no_hits_is_an_empty_context(store: Store) -> None:
    ctx = ContextAssembler(store, WordCounter()).run([])
    assert ctx.passages == [] and ctx.tokens == 0 and ctx.dropped == 0


def test_without_expansion_passages_are_the_chunks(store: Store) -> None:
    chunks = build_chunks(parents=True)[0]
    ctx = ContextAssembler(store, WordCounter(), budget=10_000, expand="none").run(hits_for([5, 1]))
    assert [p.text for p in ctx.passages] == [chunks[5].text, chunks[1].text]
    assert [p.rank for p in ctx.passages] == [1, 2]
    check_invariants(ctx, 10_000)


def test_window_adds_whole_sentences_around_the_hit(store: Store) -> None:
    chunks = build_chunks(parents=True)[0]
    spans = sentence_offsets()
    ctx = ContextAssembler(store, WordCounter(), budget=10_000, expand="window", window_sentences=2).run(
        hits_for([5])
    )
    (p,) = ctx.passages
    # Chunk 5 holds sentences 10-12; two more on each side: 8-14.
    assert (p.start, p.end) == (spans[8][0], spans[14][1])
    assert p.chunks[0].chunk_id == chunks[4].id and not p.chunks[0].retrieved
    assert [c.chunk_id for c in p.chunks if c.retrieved] == [chunks[5].id]
    assert p.chunk_at(spans[11][0]).chunk_id == chunks[5].id
    assert p.chunk_at(spans[11][0]).page == chunks[5].metadata["page"]
    check_invariants(ctx, 10_000)


def test_overlapping_hits_merge_into_one_passage(store: Store) -> None:
    chunks = build_chunks(parents=True)[0]
    ctx = ContextAssembler(store, WordCounter(), budget=10_000, expand="none").run(hits_for([3, 9, 4]))
    assert len(ctx.passages) == 2
    merged = ctx.passages[0]
    assert (merged.start, merged.end) == (chunks[3].start, chunks[4].end)
    assert merged.rank == 1 and merged.score == 1.0
    assert {c.chunk_id for c in merged.chunks} == {chunks[3].id, chunks[4].id}
    check_invariants(ctx, 10_000)


@pytest.mark.parametrize(
    "store", ["memory", pytest.param("lance", marks=pytest.mark.integration)], indirect=True
)
def test_parent_expansion_reads_the_stored_section(store: Store) -> None:
    ctx = ContextAssembler(store, WordCounter(), budget=10_000, expand="parent").run(hits_for([0, 1]))
    (p,) = ctx.passages  # both children share parent sec0
    spans = sentence_offsets()
    assert (p.start, p.end) == (spans[0][0], spans[5][1])
    check_invariants(ctx, 10_000)


def test_budget_trims_at_sentence_boundaries_around_the_hit(store: Store) -> None:
    spans = sentence_offsets()
    words = len(SENTENCES[0].split())  # 11 words per sentence; header "Guide > Part" is 3 + 1
    budget = 4 + 3 * words
    ctx = ContextAssembler(store, WordCounter(), budget=budget, expand="window", window_sentences=3).run(
        hits_for([6])
    )
    (p,) = ctx.passages
    starts = {a for a, _ in spans}
    ends = {b for _, b in spans}
    assert p.start in starts and p.end in ends
    assert p.start <= build_chunks()[0][6].start < p.end
    check_invariants(ctx, budget)


def test_tiny_budget_cuts_the_first_passage_between_words(store: Store) -> None:
    ctx = ContextAssembler(store, WordCounter(), budget=8, expand="none").run(hits_for([2, 8]))
    (p,) = ctx.passages
    assert p.tokens <= 8 and ctx.dropped == 1
    assert DOC[p.end] == " " and p.text.split()[-1] in DOC.split()


def test_document_order_groups_a_documents_passages(store: Store) -> None:
    ctx = ContextAssembler(store, WordCounter(), budget=10_000, expand="none", order="document").run(
        hits_for([8, 1, 5])
    )
    assert [p.start for p in ctx.passages] == sorted(p.start for p in ctx.passages)


def test_bad_arguments_are_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="budget"):
        ContextAssembler(store, WordCounter(), budget=0)
    with pytest.raises(ConfigError, match="expansion"):
        ContextAssembler(store, WordCounter(), expand="everything")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="budget"):
        ContextAssembler(store, WordCounter()).run([], budget=-5)


@pytest.mark.parametrize(
    "store", ["memory", pytest.param("lance", marks=pytest.mark.integration)], indirect=True
)
@pytest.mark.parametrize("expand", ["none", "window", "parent"])
def test_random_hits_and_budgets_keep_the_invariants(store: Store, expand: str) -> None:
    rng = random.Random(7)
    n = len(build_chunks()[0])
    for _ in range(25):
        positions = rng.sample(range(n), rng.randint(1, n))
        budget = rng.randint(1, 400)
        asm = ContextAssembler(
            store, WordCounter(), budget=budget, expand=expand, window_sentences=rng.randint(0, 3)
        )  # type: ignore[arg-type]
        ctx = asm.run(hits_for(positions))
        check_invariants(ctx, budget)
        if budget >= 60:
            assert ctx.passages, "a budget that fits a sentence yields context"


def test_run_budgets_equals_one_run_per_budget(store: Store) -> None:
    asm = ContextAssembler(store, WordCounter(), expand="window", window_sentences=2)
    hits = hits_for([6, 1, 9, 2])
    budgets = [10, 40, 90, 400]
    assert asm.run_budgets(hits, budgets) == [asm.run(hits, b) for b in budgets]
    with pytest.raises(ConfigError, match="budget"):
        asm.run_budgets(hits, [50, 0])


def test_a_passage_trimmed_to_the_room_left_keeps_the_sentence_the_query_asks_about(tmp_path: Path) -> None:
    # One long chunk of a parameter list (Postfix's postconf(5)): the asked entry is its last
    # sentence, and the room left holds one sentence. From the chunk's start, the trim would keep
    # the neighbouring setting's entry.
    text = (
        "The default_minimum_delivery_slots parameter sets how many slots a transport gets. "
        "The default_privs parameter names the account that the local delivery agent runs as. "
        "The default_process_limit parameter sets the maximal number of child processes to 100."
    )
    chunk = Chunk(
        id="d-c0", doc_id="d", text=text, position=0, start=0, end=len(text),
        section_path=(), source="/docs/postconf.html", title="",
    )  # fmt: skip
    s = MemoryStore(tmp_path / "col", dimension=8, model_id="test", persist=False)
    s.upsert([SourceBatch("/docs/postconf.html", "h", [chunk], np.ones((1, 8), np.float32), [])])
    s.finalize()
    first = sentence_spans(text)[0]
    one_sentence = max(len(text[a:b].split()) for a, b in sentence_spans(text))
    assembler = ContextAssembler(s, WordCounter(), budget=one_sentence, expand="none")
    hits = [Hit(chunk=chunk, score=1.0)]
    (p,) = assembler.run(hits).passages
    assert p.text == text[slice(*first)]  # no query: the chunk's first sentence
    q = "What is the default value of default_process_limit?"
    (p,) = assembler.run(hits, query=q).passages
    assert p.text.startswith("The default_process_limit parameter") and "100" in p.text
    # A query that shares no more words with a later sentence than with the first keeps the first.
    (p,) = assembler.run(hits, query="How many slots does a transport get?").passages
    assert p.text == text[slice(*first)]
    [ctx] = assembler.run_budgets(hits, [one_sentence], query=q)
    assert ctx.text.endswith("child processes to 100.")


def page_chunk(doc_id: str, text: str, title: str, source: str, section: str) -> Chunk:
    """A one-chunk page of a manual."""
    return Chunk(
        id=f"{doc_id}-c0", doc_id=doc_id, text=text, position=0, start=0, end=len(text),
        section_path=(section,), source=source, title=title,
    )  # fmt: skip


def store_of(tmp_path: Path, *chunks: Chunk) -> Store:
    """One source per chunk, in the store twin."""
    s = MemoryStore(tmp_path / "col", dimension=8, model_id="test", persist=False)
    for c in chunks:
        s.upsert([SourceBatch(c.source, c.id, [c], np.ones((1, 8), np.float32), [])])
    s.finalize()
    return s


def test_a_manuals_index_gets_only_the_room_its_content_pages_leave(tmp_path: Path) -> None:
    # A whole manual ingested: the back-of-the-book index names every option, so the exact-name
    # search ranks its chunk first (Exim's option index above the -Mrm entry it points to).
    ref = "The Exim command line [Command line options]"
    index_text = f"-Mg\n\n{ref}\n\n-Mrm\n\n{ref}"
    entry_text = "-Mrm <message id>\n\nThis option requests Exim to remove the given messages from the queue."
    index = page_chunk("i", index_text, "64. Option Index", "/docs/ch-option_index.html", "Option Index")
    exim = "5. The Exim command line"
    entry = page_chunk("e", entry_text, exim, "/docs/ch-the_exim_command_line.html", "Command line options")
    s = store_of(tmp_path, index, entry)
    hits = [Hit(chunk=index, score=2.0), Hit(chunk=entry, score=1.0)]
    room_for_one = len(entry_text.split()) + 8
    ctx = ContextAssembler(s, WordCounter(), budget=room_for_one, expand="none").run(hits)
    assert [p.doc_id for p in ctx.passages] == ["e"]
    assert ctx.passages[0].rank == 2  # it keeps its search rank
    # With room for both, the index follows the content; the same listing under a content page's
    # title is content and keeps its place.
    ctx = ContextAssembler(s, WordCounter(), budget=10_000, expand="none").run(hits)
    assert [p.doc_id for p in ctx.passages] == ["e", "i"]
    titled = [Hit(chunk=replace(index, title=exim), score=2.0), hits[1]]
    ctx = ContextAssembler(s, WordCounter(), budget=10_000, expand="none").run(titled)
    assert [p.doc_id for p in ctx.passages] == ["i", "e"]


def test_release_notes_get_the_room_left_unless_the_question_asks_about_changes(tmp_path: Path) -> None:
    note_text = "Fix failover of backend 0 being triggered while backend 0 restarts. (bug 711)"
    page_text = "Set backend_flag0 to keep backend 0 from failing over while it restarts."
    note = page_chunk("n", note_text, "Release 4.2.10", "/docs/release-4-2-10.html", "Bug fixes")
    page = page_chunk("p", page_text, "3.7. Shutting down", "/docs/shutdown.html", "Using backend_flag")
    s = store_of(tmp_path, note, page)
    hits = [Hit(chunk=note, score=2.0), Hit(chunk=page, score=1.0)]
    asm = ContextAssembler(s, WordCounter(), budget=len(page_text.split()) + 6, expand="none")
    how = asm.run(hits, query="How can I keep backend 0 from failing over while it restarts?")
    assert [p.doc_id for p in how.passages] == ["p"]
    which = asm.run(hits, query="Which release fixed failover of backend 0 while it restarts?")
    assert [p.doc_id for p in which.passages] == ["n"]
    # Without a question (a plain context for a hit list) the search order stands.
    assert [p.doc_id for p in asm.run(hits).passages] == ["n"]


def test_a_long_table_after_the_first_passage_is_trimmed_to_the_rows_the_query_asks_about(
    tmp_path: Path,
) -> None:
    # An error-code appendix (a table of 40 rows over two chunks) ranked second: the sentence
    # splitter reads the whole table as one "sentence" too long for the room left, and the
    # passage holding the asked row was dropped. Chunks of a table meet at a row boundary, one
    # character apart: the line break between rows, not a space joining two rows into one.
    rows = [f"| {23000 + i} | condition_number_{i} |" for i in range(40)]
    rows[31] = "| 40P01 | deadlock_detected |"
    first, second = "\n".join(rows[:20]), "\n".join(rows[20:])
    header = "| Error Code | Condition Name |"
    table = []
    for n, (text, start) in enumerate(((first, 0), (second, len(first) + 1))):
        c = page_chunk("t", text, "Appendix A. Error Codes", "/docs/errcodes.html", header)
        table.append(replace(c, id=f"t-c{n}", position=n, start=start, end=start + len(text)))
    prose_text = "The server detects deadlocks and aborts one of the transactions involved."
    prose = page_chunk("m", prose_text, "Concurrency Control", "/docs/mvcc.html", "Deadlocks")
    s = store_of(tmp_path, prose)
    s.upsert([SourceBatch("/docs/errcodes.html", "t", table, np.ones((2, 8), np.float32), [])])
    s.finalize()
    hits = [Hit(chunk=prose, score=2.0), Hit(chunk=table[1], score=1.0), Hit(chunk=table[0], score=0.5)]
    room = len(prose_text.split()) + 40  # the prose and a few rows, not the table
    q = "Which error code means deadlock detected?"
    ctx = ContextAssembler(s, WordCounter(), budget=room).run(hits, query=q)
    assert [p.doc_id for p in ctx.passages] == ["m", "t"]
    assert "| 40P01 | deadlock_detected |" in ctx.passages[1].text.split("\n")
    # With room for all of it, the two chunks are the table as written, one row a line.
    ctx = ContextAssembler(s, WordCounter(), budget=10_000).run(hits, query=q)
    assert ctx.passages[1].text == first + "\n" + second


def stored_pieces(
    tmp_path: Path, doc_id: str, texts: list[str], title: str, source: str, section: str, *, gap: int
) -> tuple[MemoryStore, list[Chunk]]:
    """One page cut into consecutive chunks (``gap`` characters apart), stored in a memory store."""
    chunks, start = [], 0
    for n, text in enumerate(texts):
        c = page_chunk(doc_id, text, title, source, section)
        chunks.append(replace(c, id=f"{doc_id}-c{n}", position=n, start=start, end=start + len(text)))
        start += len(text) + gap
    s = MemoryStore(tmp_path / "col", dimension=8, model_id="test", persist=False)
    s.upsert([SourceBatch(source, doc_id, chunks, np.ones((len(chunks), 8), np.float32), [])])
    s.finalize()
    return s, chunks


def test_a_merged_passage_is_trimmed_around_the_piece_any_of_its_hits_shares_with_the_query(
    tmp_path: Path,
) -> None:
    # A page's introduction (the best hit) and, further down its table, the chunk holding the asked
    # row (a lower hit) merge into one passage too long for the context. The trim keeps the row,
    # not the introduction; and "error code", in the header row and the introduction, counts less
    # than "deadlock detected", in one row only.
    intro = "# Appendix A. Error Codes\n\nThe server assigns an error code to every message it emits."
    header = "| Error Code | Condition Name |"
    rows = [f"| {23000 + i} | condition_number_{i} |" for i in range(60)]
    rows[45] = "| 40P01 | deadlock_detected |"
    texts = [intro, "\n".join([header, *rows[:30]]), "\n".join(rows[30:])]
    s, chunks = stored_pieces(
        tmp_path, "t", texts, "Appendix A. Error Codes", "/docs/errcodes.html", "Appendix A", gap=2
    )
    hits = [Hit(chunk=chunks[0], score=2.0), Hit(chunk=chunks[2], score=1.0), Hit(chunk=chunks[1], score=0.5)]
    assembler = ContextAssembler(s, WordCounter(), budget=60, expand="none")
    (p,) = assembler.run(hits, query="Which error code means deadlock detected?").passages
    assert "| 40P01 | deadlock_detected |" in p.text, p.text


def test_a_name_the_query_spells_whole_finds_its_row_among_rows_that_share_its_parts(tmp_path: Path) -> None:
    # libvirt's error enum: every row says VIR_ERR_... and many say DOMAIN. Split into words the
    # asked name matches dozens of rows as well as its own; spelt whole it matches one, and the
    # trimmed passage keeps it.
    rows = [f"| VIR_ERR_THING_{i} | = | {i} (0x{i:x}) | thing {i} failed |" for i in range(60)]
    rows[3] = "| VIR_ERR_INVALID_DOMAIN | = | 3 (0x3) | invalid domain object |"
    rows[7] = "| VIR_ERR_NO_DOMAIN_NAME | = | 7 (0x7) | missing domain name information |"
    rows[42] = "| VIR_ERR_NO_DOMAIN | = | 42 (0x2a) | domain not found or unexpectedly disappeared |"
    texts = ["\n".join(rows[:30]), "\n".join(rows[30:])]
    s, chunks = stored_pieces(
        tmp_path, "v", texts, "Module virterror", "/docs/virterror.html", "virErrorNumber", gap=1
    )
    hits = [Hit(chunk=chunks[0], score=2.0), Hit(chunk=chunks[1], score=1.0)]
    (p,) = (
        ContextAssembler(s, WordCounter(), budget=60, expand="none")
        .run(hits, query="Which error number is VIR_ERR_NO_DOMAIN?")
        .passages
    )
    assert "| VIR_ERR_NO_DOMAIN | = | 42 (0x2a) |" in p.text, p.text


def test_a_passage_cut_inside_an_entry_knows_the_entry_and_section_it_starts_in(tmp_path: Path) -> None:
    from ragline.generation.entries import unit_labels
    from ragline.text.sentences import answer_units

    # A parameter list cut into chunks inside work_mem's <dd>: the retrieved chunk holds the
    # default but not the term above it. The window reaches back into the chunk before, past its
    # heading and term; the passage keeps both, so its sentences are work_mem's, not the page's.
    doc = (
        "## Resource Consumption\n\nIntro to the chapter.\n\n## Memory\n\nwork_mem (integer)\n\n"
        "Sets the base maximum amount of memory. Sorts use it. Hash tables use it too. "
        "The default is four megabytes.\n\nshared_buffers (integer)\n\nSets the buffers. It is 128MB."
    )
    cut1 = doc.index("Hash tables")
    cut2 = doc.index("shared_buffers")
    pieces = [(0, cut1 - 1, ("Resource Consumption",)), (cut1, cut2 - 2, ("Resource Consumption",)),
              (cut2, len(doc), ("Resource Consumption",))]  # fmt: skip
    chunks = [
        Chunk(
            id=f"m-c{i}",
            doc_id="m",
            text=doc[a:b],
            position=i,
            start=a,
            end=b,
            section_path=path,
            source="/docs/runtime-config.html",
            title="Server Configuration",
        )
        for i, (a, b, path) in enumerate(pieces)
    ]
    s = MemoryStore(tmp_path / "col", dimension=8, model_id="test", persist=False)
    s.upsert([SourceBatch(chunks[0].source, "h", chunks, np.ones((3, 8), np.float32), [])])
    s.finalize()
    hit = [Hit(chunk=chunks[1], score=1.0)]
    (p,) = ContextAssembler(s, WordCounter(), expand="window", window_sentences=1).run(hit).passages
    assert p.text.startswith("Sorts use it.") and p.text.endswith("shared_buffers (integer)")
    assert p.entry == "work_mem (integer)"
    assert p.starts_in == ("Resource Consumption", "Memory")
    assert p.section_path == ("Resource Consumption",)  # the retrieved chunk's, for its header
    units = answer_units(p.text)
    labels = unit_labels(p.text, units, p.starts_in or p.section_path, p.entry)
    default = next(i for i, (a, b) in enumerate(units) if "four megabytes" in p.text[a:b])
    assert labels[default] == "Memory\nwork_mem (integer)"
    # Trimmed to the sentence the query asks about, the passage keeps what its window opened.
    room = WordCounter().count(chunks[1].header) + 1 + WordCounter().count("The default is four megabytes.")
    (p,) = (
        ContextAssembler(s, WordCounter(), budget=room, expand="window", window_sentences=1)
        .run(hit, query="What is the default of work_mem?")
        .passages
    )
    assert p.text == "The default is four megabytes." and p.entry == "work_mem (integer)"
    # A window that starts at the next entry's term opens nothing before it; a chunk retrieved
    # alone (no window) has no text before it to read.
    hit = [Hit(chunk=chunks[2], score=1.0)]
    (p,) = ContextAssembler(s, WordCounter(), expand="window", window_sentences=0).run(hit).passages
    assert p.text.startswith("shared_buffers (integer)") and p.entry == ""
    (p,) = ContextAssembler(s, WordCounter(), expand="none").run([Hit(chunk=chunks[1], score=1.0)]).passages
    assert (p.entry, p.starts_in) == ("", ())


def test_a_page_repeated_in_another_guide_takes_the_room_once(tmp_path: Path) -> None:
    # The same variable table in the user manual's appendix and the developer guide's (NUT ships
    # both), and a manual shipped chunked and as one page: the copy ranked second adds nothing.
    rows = "\n".join(f"| battery.v{i} | Battery value number {i} in volts | {i}.5 |" for i in range(12))
    user = page_chunk("u", rows, "C.2. Variables", "/docs/user-manual/apcs02.html", "C.2. Variables")
    dev = page_chunk("d", rows, "A.2. Variables", "/docs/developer-guide/apas02.html", "A.2. Variables")
    other_text = "| TRIM | UPS is trimming incoming voltage (called buck in some hardware) |"
    other = page_chunk("s", other_text, "4. Drivers", "/docs/developer-guide/ar01s04.html", "Status data")
    s = store_of(tmp_path, user, dev, other)
    hits = [Hit(chunk=user, score=3.0), Hit(chunk=dev, score=2.9), Hit(chunk=other, score=1.0)]
    room_for_two = len(rows.split()) + len(other_text.split()) + 12
    ctx = ContextAssembler(s, WordCounter(), budget=room_for_two, expand="none").run(hits)
    assert [p.doc_id for p in ctx.passages] == ["u", "s"]
    # A passage that shares some rows with one above it is no repeat.
    part = "\n".join(rows.split("\n")[:6] + ["| ups.load | Load on UPS (percent) | 23 |"] * 6)
    dev2 = replace(dev, text=part, end=len(part))
    s = store_of(tmp_path / "b", user, dev2)
    ctx = ContextAssembler(s, WordCounter(), budget=10_000, expand="none").run(
        [Hit(chunk=user, score=3.0), Hit(chunk=dev2, score=2.9)]
    )
    assert [p.doc_id for p in ctx.passages] == ["u", "d"]
