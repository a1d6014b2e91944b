"""The documentation QA benchmark: ``ask`` over two real software manuals (issue 23).

The manuals are the English Apache httpd 2.4 manual (Debian ``apache2-doc``) and the SQLite
documentation (Debian ``sqlite3-doc``, top-level pages; the C API reference ``c3ref/`` is left out).
They are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into the cache
directory (never into the repository); the pages the questions come from and the other pages of
up to 20 KB of HTML (283 pages in all) are copied into one corpus folder and ingested with
``ragline ingest`` (incremental: a second run re-embeds nothing). Then every question of
``questions.jsonl`` is asked and scored:

- ``answer_in_text``: an answerable question's answer text holds one of its gold answers
  (case-folded, whitespace collapsed, thousands separators kept); an abstention scores 0;
- ``short_match``: the short answer (``Answer.short``) holds a gold answer;
- ``abstained_answerable`` and ``off_corpus_abstained``: abstention on answerable and on
  off-corpus questions;
- ``gold_page_top10``: the gold page is among the sources of the top 10 search hits.

Usage::

    .venv/bin/python bench/docs_qa/run.py --split dev            # tune on this
    .venv/bin/python bench/docs_qa/run.py --split heldout        # report once
    .venv/bin/python bench/docs_qa/run.py --split dev --show     # per-question lines
    .venv/bin/python bench/docs_qa/run.py --split check          # two more manuals (check.jsonl)
    .venv/bin/python bench/docs_qa/run.py --split varnish --all-pages   # a whole third manual
    .venv/bin/python bench/docs_qa/run.py --split zsh --all-pages       # and a fourth
    .venv/bin/python bench/docs_qa/run.py --split exim --all-pages      # and a fifth
    .venv/bin/python bench/docs_qa/run.py --split rsyslog --all-pages   # and a sixth
    .venv/bin/python bench/docs_qa/run.py --split pgpool --all-pages    # and a seventh
    .venv/bin/python bench/docs_qa/run.py --split slony --all-pages     # and an eighth
    .venv/bin/python bench/docs_qa/run.py --split privoxy --all-pages   # and a ninth
    .venv/bin/python bench/docs_qa/run.py --split bind --all-pages      # and a tenth
    .venv/bin/python bench/docs_qa/run.py --split haproxy --all-pages   # and an eleventh
    .venv/bin/python bench/docs_qa/run.py --split tomcat --all-pages    # and a twelfth
    .venv/bin/python bench/docs_qa/run.py --split wireshark --all-pages # and a thirteenth
    .venv/bin/python bench/docs_qa/run.py --split postgis --all-pages   # and a fourteenth
    .venv/bin/python bench/docs_qa/run.py --split mutt --all-pages      # and a fifteenth
    .venv/bin/python bench/docs_qa/run.py --split nut --all-pages       # and a sixteenth
    .venv/bin/python bench/docs_qa/run.py --split proftpd --all-pages   # and a seventeenth
    .venv/bin/python bench/docs_qa/run.py --split graphviz --all-pages  # and an eighteenth
    .venv/bin/python bench/docs_qa/run.py --split ffmpeg --all-pages    # and a nineteenth
    .venv/bin/python bench/docs_qa/run.py --split ntpsec --all-pages    # and a twentieth
    .venv/bin/python bench/docs_qa/run.py --split libvirt --all-pages   # and a twenty-first

``--split check`` asks the questions of ``check.jsonl`` over the Postfix (``postfix-doc``) and Git
(``git-doc``) manuals, fetched and ingested the same way into the collection ``docscheck``;
``--split varnish`` the questions of ``varnish.jsonl`` over the whole Varnish Cache 7.1 manual
(``varnish-doc``, 165 Sphinx pages) into ``docsvarnish``; ``--split zsh`` those of ``zsh.jsonl``
over the whole zsh 5.9 manual (``zsh-doc``, 186 texinfo pages) into ``docszsh``.

Cost: the first run embeds 283 pages (about 10 minutes on 2 shared cores); later runs only ask.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
# Distractor pages larger than this are left out: 283 pages, ~2 M characters of text (the gold
# pages alone are 0.8 M), about 10 minutes of embedding on 2 shared cores.
MAX_PAGE_BYTES = 20_000


class QuestionSet(NamedTuple):
    """A question file, the Debian packages its manuals come from, where each manual's pages sit
    inside the unpacked packages (with the glob of the pages taken), and its collection."""

    questions: Path
    packages: tuple[str, ...]
    manuals: dict[str, tuple[str, str]]
    collection: str


def _one_manual(name: str, package: str, folder: str, pattern: str) -> QuestionSet:
    """A set over one whole manual: ``<name>.jsonl`` asked of the pages ``folder/pattern`` of the
    Debian ``package``, in the collection ``docs<name>``."""
    return QuestionSet(HERE / f"{name}.jsonl", (package,), {name: (folder, pattern)}, f"docs{name}")


SETS = {
    # Tuned on (split dev) and reported once per change (split heldout).
    "main": QuestionSet(
        HERE / "questions.jsonl",
        ("apache2-doc", "sqlite3-doc"),
        {
            "apache": ("usr/share/doc/apache2-doc/manual/en", "**/*.html"),
            "sqlite": ("usr/share/doc/sqlite3", "*.html"),
        },
        "docsqa",
    ),
    # Written on 2026-12-06 before any output over these manuals; never tuned on (split check).
    "check": QuestionSet(
        HERE / "check.jsonl",
        ("postfix-doc", "git-doc"),
        {
            "postfix": ("usr/share/doc/postfix/html", "*.html"),
            "git": ("usr/share/doc/git-doc", "*.html"),
        },
        "docscheck",
    ),
    # Written on 2026-12-07 before any output over this manual; a whole Sphinx manual, asked as a
    # user would ingest it (--all-pages); never tuned on (split varnish).
    "varnish": _one_manual("varnish", "varnish-doc", "usr/share/doc/varnish/html", "**/*.html"),
    # Written on 2026-12-07 before any output over this manual (after the Varnish set's fixes): a
    # whole texinfo manual of another kind (a shell: options, parameters, builtins; split zsh).
    "zsh": _one_manual("zsh", "zsh-doc", "usr/share/doc/zsh-common/html", "*.html"),
    # Written on 2026-12-07 before any output over this manual: Exim's specification (xfpt HTML),
    # options as one-row tables (name | Use | Type | Default) above their description; the
    # chNN.html symlinks to the same chapters are left out (split exim).
    "exim": _one_manual("exim", "exim4-doc-html", "usr/share/doc/exim4-doc-html/spec_html", "ch-*.html"),
    # Written on 2026-12-07 before any output over this manual: rsyslog's Sphinx manual, each
    # module parameter a heading with a "type | default | mandatory | ..." table (split rsyslog).
    "rsyslog": _one_manual("rsyslog", "rsyslog-doc", "usr/share/doc/rsyslog-doc/html", "**/*.html"),
    # Written on 2026-12-07 (twentieth session) before any output over this manual: pgpool-II 4.3's
    # DocBook manual (the pgpool2 package ships it), parameters as "name (type)" terms whose
    # description says "Default is ...", reference pages, release notes and a back-of-the-book
    # index (bookindex.html); every page (split pgpool).
    "pgpool": _one_manual("pgpool", "pgpool2", "usr/share/doc/pgpool2", "*.html"),
    # Written on 2026-12-07 (twenty-second session) before any output over this manual: Slony-I
    # 2.2's DocBook admin guide (PostgreSQL's stylesheet), slon parameters as "name (type)" terms
    # whose defaults are worded six ways ("Range: [..], default 2000", "Default: false",
    # "Defaults to true", ...), slonik statement pages, schema tables; every page (split slony).
    "slony": _one_manual("slony", "slony1-2-doc", "usr/share/doc/slony1-2-doc/adminguide", "*.html"),
    # Written on 2026-12-07 (twenty-second session) before any output over this manual: Privoxy's
    # DocBook user manual, FAQ and developer manual (the privoxy package ships them); each option
    # a numbered heading over "Specifies: / Type of value: / Default value: / Effect if unset:"
    # fields (split privoxy).
    "privoxy": _one_manual("privoxy", "privoxy", "usr/share/doc/privoxy", "**/*.html"),
    # Written on 2026-12-07 (twenty-second session) before any output over this manual: the BIND 9
    # Administrator Reference Manual (Sphinx), each option a "Grammar: / Blocks: / Tags:" record
    # whose default is in prose ("The default is 853."), neighbours with near-identical wording
    # (port, tls-port, https-port, http-port); every page (split bind).
    "bind": _one_manual("bind", "bind9-doc", "usr/share/doc/bind9-doc/arm", "*.html"),
    # Written on 2026-12-07 (twenty-third session) before any output over this manual: HAProxy
    # 2.6's configuration manual (one 2.6 MB page: keywords with their arguments, "May be used in
    # sections" tables and prose defaults), its management and starter guides and the Lua API's
    # Sphinx pages; every page (split haproxy).
    "haproxy": _one_manual("haproxy", "haproxy-doc", "usr/share/doc/haproxy", "**/*.html"),
    # Written on 2026-12-07 (twenty-fourth session) before any output over this manual: Apache
    # Tomcat 10.1's documentation (tomcat10-docs): the configuration reference's two-column
    # "Attribute | Description" tables whose defaults are worded in prose ("If not specified, this
    # attribute is set to 200", "The default value is 100", "Defaults to true"), the default
    # servlet's "[false]" defaults, Jasper's "name - description ... Default 4" lists, how-to
    # pages and a 476 KB changelog; every page (split tomcat).
    "tomcat": _one_manual("tomcat", "tomcat10-docs", "usr/share/tomcat10-docs/docs", "**/*.html"),
    # Written on 2026-12-07 (twenty-fourth session) before any output over this manual: Wireshark
    # 4.0's user's and developer's guides (wireshark-doc, asciidoctor's DocBook chunked HTML):
    # multi-column operator tables (English | Alias | C-like | Description | Example), the
    # command-line tools' usage text in <pre> ("-F <capture type> set the output file type;
    # default is pcapng."), TCP analysis flags as terms over their conditions; every page (split
    # wireshark).
    "wireshark": _one_manual("wireshark", "wireshark-doc", "usr/share/doc/wireshark", "**/*.html"),
    # Written on 2026-12-07 (twenty-fourth session) before any output over this manual: the PostGIS
    # 3.3 manual (postgis-doc), one 3.4 MB DocBook page: function reference entries as
    # PostgreSQL's manual writes them (Name / Synopsis / Description / Examples), GUC variables,
    # the loaders' option lists; split postgis.
    "postgis": _one_manual("postgis", "postgis-doc", "usr/share/doc/postgis-doc", "*.html"),
    # Written on 2026-12-07 (twenty-fourth session) before any output over this manual: Mutt
    # 2.2's DocBook manual (the mutt package ships it chunked and as one page, manual.html; both
    # taken, as a user would point ingest at the folder): each variable a numbered heading over
    # "Type: / Default:" lines and its description; split mutt.
    "mutt": _one_manual("mutt", "mutt", "usr/share/doc/mutt/html", "*.html"),
    # Written on 2026-12-07 (twenty-fifth session) before any output over this manual: Network
    # UPS Tools 2.8's documentation (nut-doc; asciidoc rendered through DocBook, chunked): the
    # user manual with its variable and instant-command tables and configure options, the
    # developer guide (status flags in a code block, the protocol's error responses as a list),
    # and the FAQ both chunked and as one page; split nut.
    "nut": _one_manual("nut", "nut-doc", "usr/share/doc/nut-doc/html", "**/*.html"),
    # Written on 2026-12-07 (twenty-sixth session) before any output over this manual: ProFTPD
    # 1.3.8's documentation (proftpd-doc; hand-written HTML with unclosed paragraphs): module
    # pages with each directive a heading over "Syntax: / Default: / Context:" lines separated by
    # <br>, the default often repeating the directive's name ("Default: AllowOverwrite off"),
    # how-tos with command-line options as indented lines in <pre>, and an old DocBook FAQ;
    # split proftpd.
    "proftpd": _one_manual("proftpd", "proftpd-doc", "usr/share/doc/proftpd-doc", "**/*.html"),
    # Written on 2026-12-07 (twenty-sixth session) before any output over this manual: Graphviz
    # 2.42's HTML documentation (graphviz-doc): one attribute table of six columns (Name | Used By |
    # Type | Default | Minimum | Notes) over the attributes' descriptions, the command-line flags
    # as paragraphs under each flag ("-Gname[=value]" then its sentence), the output formats as a
    # table of parameter names, the DOT grammar as a table, and a FAQ of "Q12." paragraphs;
    # split graphviz.
    "graphviz": _one_manual("graphviz", "graphviz-doc", "usr/share/doc/graphviz/html", "**/*.html"),
    # Written on 2026-12-08 (twenty-seventh session) before any output over this manual: FFmpeg
    # 5.1's texinfo manuals (ffmpeg-doc, manual/ only: the Doxygen API pages are left out): ~5,000
    # options as <dl> terms whose defaults close their description ("Default value is 0.98."),
    # option names repeated across hundreds of filters and protocols (x, y, d, timeout), headings
    # carrying "#" and "TOC" anchor links, the tools' pages repeated inside the ffmpeg-all,
    # ffplay-all and ffprobe-all pages, a FAQ of question headings and the developer guide;
    # split ffmpeg.
    "ffmpeg": _one_manual("ffmpeg", "ffmpeg-doc", "usr/share/doc/ffmpeg/manual", "*.html"),
    # Written on 2026-12-08 (twenty-seventh session) before any output over this manual: NTPsec
    # 1.2's documentation (ntpsec-doc; asciidoc HTML): ntp.conf's options as <dl> terms whose
    # defaults sit in prose beside their neighbours' ("The maximum poll interval defaults to 10
    # ... The minimum poll interval defaults to 6"), status words and kiss codes as Code | Message
    # | Description tables, a glossary, the tools' man pages, and the same navigation list of
    # manual pages on every page; split ntpsec.
    "ntpsec": _one_manual("ntpsec", "ntpsec-doc", "usr/share/doc/ntpsec-doc/html", "*.html"),
    # Written on 2026-12-08 (twenty-seventh session) before any output over this manual: libvirt
    # 9.0's documentation (libvirt-doc, 186 pages): the domain XML format (one 535 KB page of
    # elements and attributes whose defaults are worded in prose: "will default to exact"), the
    # drivers' URI pages, virsh's man page (a heading per command over "Syntax:" and a code
    # block), the generated API reference with its error-code enum tables, kbase articles;
    # split libvirt.
    "libvirt": _one_manual("libvirt", "libvirt-doc", "usr/share/doc/libvirt-doc/html", "**/*.html"),
    # Written on 2026-12-08 (twenty-eighth session) before any output over this manual: Bacula
    # 9.6's main manual (bacula-doc, LaTeX2HTML): directives as <dl> entries whose defaults are
    # prose in the description, the same directive in several resources and daemons with
    # different defaults, an alphabetical index page; split bacula.
    "bacula": _one_manual("bacula", "bacula-doc", "usr/share/doc/bacula-doc/html/main", "*.html"),
    # Written on 2026-12-08 (twenty-eighth session) before any output over this manual: Cyrus
    # IMAP's documentation (cyrus-doc): the man pages as groff HTML, imapd.conf's options as
    # "name: value" lines whose value is the default (the page says so once, above them all), the
    # overview's access rights as letter / word / description lines, install guides and a FAQ;
    # split cyrus.
    "cyrus": _one_manual("cyrus", "cyrus-doc", "usr/share/doc/cyrus-doc/html", "**/*.html"),
    # Written on 2026-12-08 (twenty-eighth session) before any output over this manual: aptitude's
    # user manual (aptitude-doc-en, DocBook XSL chunked HTML as PostgreSQL's): the configuration
    # file reference as "Option: / Default: / Description:" records with neighbouring numeric
    # defaults, the command-line reference as a refentry page, the search term table, a FAQ;
    # split aptitude.
    "aptitude": _one_manual("aptitude", "aptitude-doc-en", "usr/share/doc/aptitude/html/en", "*.html"),
}


def fetch_manuals(cache: Path, qs: QuestionSet) -> Path:
    """Unpack the set's documentation packages under ``cache/root`` (downloaded once)."""
    root = cache / "root"
    if all((root / rel).is_dir() for rel, _ in qs.manuals.values()):
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *qs.packages], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def build_corpus(
    root: Path, cache: Path, gold: set[str], qs: QuestionSet, max_page_bytes: int | None = MAX_PAGE_BYTES
) -> Path:
    """One folder with the pages to ingest: every page a question comes from, and as distractors
    every other page of the manuals (for the main set: the English Apache manual, no translations,
    and SQLite's top level, not its c3ref/ API pages) up to ``max_page_bytes`` of HTML, to bound
    the embedding cost (None: every page, as a user would ingest the manual)."""
    corpus = cache / ("corpus" if qs.collection == "docsqa" else f"corpus-{qs.collection}")
    # Which cap built the folder (none written: the default one), so that one cache directory
    # never mixes the capped corpus with every page.
    marker = corpus / ".max_page_bytes"
    wanted = "all" if max_page_bytes is None else str(max_page_bytes)
    if corpus.is_dir():
        built = marker.read_text().strip() if marker.is_file() else str(MAX_PAGE_BYTES)
        if built != wanted:
            raise SystemExit(
                f"{corpus} holds the corpus built with max page bytes {built}, not {wanted}: "
                "pass another --cache-dir"
            )
        return corpus
    for name, (rel, pattern) in qs.manuals.items():
        src = root / rel
        for page in sorted(src.glob(pattern)):
            key = f"{name}/{page.relative_to(src).as_posix()}"
            if key not in gold and max_page_bytes is not None and page.stat().st_size > max_page_bytes:
                continue
            dest = corpus / name / page.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, dest)
    marker.write_text(wanted)
    return corpus


def ingest(corpus: Path, data_dir: Path, collection: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "ragline.cli.main",
        "ingest",
        str(corpus),
        "--collection",
        collection,
        "--data-dir",
        str(data_dir),
    ]
    subprocess.run(cmd, check=True)


def normalise(text: str) -> str:
    text = text.lower().replace("\u00a0", " ")
    text = re.sub(r"\[\d+\]", " ", text)  # the answer's own citation markers
    return re.sub(r"\s+", " ", text).strip()


def holds(text: str | None, golds: list[str]) -> bool:
    if not text:
        return False
    t = normalise(text)
    for g in golds:
        g = normalise(g)
        # A numeric gold must not match inside a longer number ("5" in "50").
        pat = re.escape(g)
        if re.fullmatch(r"[-\d.,]+", g):
            pat = rf"(?<![\d.,-]){pat}(?![\d]|[.,]\d)"
        if re.search(pat, t):
            return True
    return False


def page_of(source: str, corpus: Path) -> str:
    rel = Path(source).resolve().relative_to(corpus.resolve())
    return "/".join(rel.parts[1:])


def evaluate(
    engine: Any, rows: list[dict[str, Any]], corpus: Path, show: bool, collection: str
) -> dict[str, Any]:
    per: list[dict[str, Any]] = []
    for r in rows:
        t0 = time.perf_counter()
        answer = engine.ask(r["question"], collection=collection)
        ms = (time.perf_counter() - t0) * 1000
        hits = engine.search(r["question"], top_k=10, collection=collection)
        pages = [page_of(h.chunk.source, corpus) for h in hits]
        short = getattr(answer, "short", None)
        short_text = getattr(short, "text", None) if short is not None else None
        off = r["kind"] == "off"
        out = {
            "id": r["id"],
            "kind": r["kind"],
            "off": off,
            "abstained": answer.abstained,
            "confidence": round(answer.confidence, 3),
            "in_text": (not answer.abstained) and holds(answer.text, r["answers"]),
            "short": short_text,
            "short_match": (not answer.abstained) and holds(short_text, r["answers"]),
            "gold_top10": (r["page"] in pages) if not off else None,
            "ms": ms,
        }
        per.append(out)
        if show:
            mark = "OK " if (out["abstained"] if off else out["in_text"]) else "-- "
            print(f"{mark}{r['id']} [{r['kind']}] {r['question']}")
            print(
                f"     gold={r['answers']} page={r['page']} top10={out['gold_top10']} "
                f"conf={out['confidence']} short={short_text!r}"
            )
            print(f"     answer: {answer.text[:300]!r}")
    ans = [p for p in per if not p["off"]]
    off = [p for p in per if p["off"]]
    ms = sorted(p["ms"] for p in per)
    return {
        "questions": len(per),
        "answerable": len(ans),
        "answer_in_text": round(sum(p["in_text"] for p in ans) / max(1, len(ans)), 3),
        "short_answers": sum(p["short"] is not None for p in ans),
        "short_match": round(sum(p["short_match"] for p in ans) / max(1, len(ans)), 3),
        "abstained_answerable": sum(p["abstained"] for p in ans),
        "off_corpus": len(off),
        "off_corpus_abstained": round(sum(p["abstained"] for p in off) / max(1, len(off)), 3),
        "gold_page_top10": round(sum(bool(p["gold_top10"]) for p in ans) / max(1, len(ans)), 3),
        "ask_p50_ms": round(ms[len(ms) // 2], 1) if ms else 0.0,
        "by_kind": {
            k: f"{sum(p['in_text'] for p in ans if p['kind'] == k)}/{sum(p['kind'] == k for p in ans)}"
            for k in sorted({p["kind"] for p in ans})
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    one_set = [name for name in SETS if name != "main"]  # splits named after their own set
    splits = ["dev", "heldout", *one_set, "all"]
    ap.add_argument("--split", choices=splits, default="dev")
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "ragline-bench" / "docs_qa")
    ap.add_argument("--show", action="store_true", help="print each question, its gold and the answer")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true", help="the collection is already built")
    ap.add_argument(
        "--all-pages",
        action="store_true",
        help="every page of the manuals, not only those up to 20 KB (use its own --cache-dir)",
    )
    args = ap.parse_args()

    import ragline

    cache: Path = args.cache_dir
    qs = SETS[args.split if args.split in one_set else "main"]
    rows = [json.loads(line) for line in qs.questions.read_text().splitlines() if line.strip()]
    gold = {f"{r['manual']}/{r['page']}" for r in rows if r["page"]}
    root = fetch_manuals(cache, qs)
    corpus = build_corpus(root, cache, gold, qs, None if args.all_pages else MAX_PAGE_BYTES)
    data_dir = cache / "data"
    if not args.skip_ingest:
        ingest(corpus, data_dir, qs.collection)
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    engine = ragline.open(data_dir)
    split = f"{args.split}-all-pages" if args.all_pages else args.split
    result = {"split": split, **evaluate(engine, rows, corpus, args.show, qs.collection)}
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
