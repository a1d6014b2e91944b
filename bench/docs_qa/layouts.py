"""Manual layouts at a manual's scale, built from seeded templates and asked end to end.

The question sets in this folder ask a few questions of each real manual; a layout that holds
one of them is met once or twice. This bench writes pages in six layouts a DocBook manual (and
others) uses at full size, with many look-alike entries, ingests them with ``ragline ingest`` into a
fresh collection and asks every entry's question through ``ask``:

- ``parameters``: 40 settings in two variable lists, "name (integer)" over a description of 4-5
  sentences; the default one short sentence ("The default is 256kB.") anywhere in it, with its
  unit glued on as a configuration file writes it; and five pages of a one-word setting beside two
  that extend its name ("compression (boolean)", "compression_level (integer)", ...). Asked:
  "What is the default value of X?"; scored on the short answer.
- ``columns``: a 5-column parameter table (Parameter | Type | Default | Mandatory | Description) of
  20 rows whose descriptions hold sentences. Asked: "What is the default value of X?"; scored on the
  short answer.
- ``codes``: an error-code appendix, a 2-column table of 90 rows in 20 classes (a class row spans
  both columns), several chunks long. Asked: "Which error code means <name in words>?"; scored on
  the short answer.
- ``functions``: a one-column function table (signature, description and example, each a
  paragraph of one cell) of 24 rows. Asked: "Which function <description>?"; scored on the short
  answer being the function's name.

- ``notes``: 10 settings whose entries hold a note, tip or warning (a titled block, as DocBook
  writes one) between the description and the default. Asked: "What is the default value of X?";
  scored on the short answer.
- ``references``: 8 command reference pages ("DROP TABLE", "DROP VIEW", ...), each a synopsis
  with choices between bars and the same parameters (IF EXISTS, CASCADE, RESTRICT). Asked: "What
  does CASCADE do in DROP INDEX?"; scored on the answer's first piece holding that page's entry.

The templates are generic (made-up names and values), not text of any manual. A first run of each
layout on the code before the twenty-first session is in docs/benchmarks.md.

Usage::

    PYTHONPATH=src .venv/bin/python bench/docs_qa/layouts.py [--layout codes] [--show]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

Question = tuple[str, str]  # (question, expected short answer)
Layout = Callable[[Path], list[Question]]

_UNITS = {"s": "seconds", "ms": "milliseconds", "kB": "kilobytes", "": ""}


def _page(path: Path, title: str, body: str, heading: str = "h2") -> None:
    """An HTML page titled ``title``, its heading the same, then ``body``."""
    path.write_text(
        f"<html><head><title>{title}</title></head><body><{heading}>{title}</{heading}>{body}</body></html>"
    )


def _variable_list(dl: str) -> str:
    """``dl`` (``<dt>``/``<dd>`` pairs) as DocBook writes a variable list."""
    return f'<div class="variablelist"><dl class="variablelist">{dl}</dl></div>'


def parameters(out: Path) -> list[Question]:
    rng = random.Random(7)
    nouns = [
        "checkpoint",
        "wal_writer",
        "autovacuum",
        "bgwriter",
        "archive",
        "replication",
        "lock",
        "statement",
        "idle_session",
        "deadlock",
        "vacuum_cost",
        "log_rotation",
        "temp_file",
        "commit",
        "parallel_worker",
        "hash_mem",
        "effective_io",
        "random_page",
        "seq_page",
        "cpu_tuple",
    ]
    suffixes = [("timeout", "s"), ("delay", "ms"), ("limit", ""), ("size", "kB")]
    purposes = [
        "Sets the maximum time between automatic operations of the {n} subsystem.",
        "Specifies how long the {n} process waits before it acts again.",
        "Controls the amount of work the {n} machinery performs in one round.",
        "Limits the resources that {n} activity may consume at once.",
        "Determines when the server reports {n} events in the log.",
    ]
    extra = [
        "If this value is specified without units, it is taken as {u}.",
        "This parameter can only be set in the configuration file or on the server command line.",
        "Only superusers and users with the appropriate SET privilege can change this setting.",
        "Setting this to zero disables the feature.",
        "Increasing this value can reduce overhead at the cost of longer recovery.",
        "See the section on monitoring for more information.",
    ]
    entries: list[str] = []
    questions: list[Question] = []
    names: set[str] = set()
    while len(entries) < 40:
        noun = rng.choice(nouns)
        suffix, unit = rng.choice(suffixes)
        name = f"{noun}_{suffix}"
        if name in names:
            continue
        names.add(name)
        value = rng.choice([1, 2, 5, 10, 15, 20, 30, 50, 60, 100, 200, 256, 300, 500, 1000, 4096])
        default = f"{value}{unit}"
        sentences = [rng.choice(purposes).format(n=noun.replace("_", " "))]
        sentences += [e.format(u=_UNITS[unit] or "a count") for e in rng.sample(extra, 3)]
        form = rng.choice(["The default is {d}.", "The default value is {d}.", "The default is {d} ({w})."])
        words = f"{value} {_UNITS[unit]}".strip()
        sentences.insert(rng.randint(1, len(sentences)), form.format(d=f"<code>{default}</code>", w=words))
        entries.append(
            f'<dt><span class="term"><code class="varname">{name}</code> (<code class="type">integer'
            f"</code>)</span></dt><dd><p>{' '.join(sentences)}</p></dd>"
        )
        questions.append((f"What is the default value of {name}?", default))
    # One-word settings among longer ones that start with the same word ("compression" beside
    # "compression_level"), on a page titled by that word: the name reads as a plain word.
    for word in ["compression", "encryption", "tracing", "sampling", "journaling"]:
        switch = rng.choice(["on", "off"])
        level = rng.choice([1, 3, 5, 9])
        family = [
            (
                word,
                "boolean",
                f"Enables {word} for all sessions. The default is <code>{switch}</code>.",
                switch,
            ),
            (
                f"{word}_level",
                "integer",
                f"Sets how much {word} work is done. Higher levels cost more. The default is {level}.",
                str(level),
            ),
            (
                f"{word}_method",
                "string",
                f"Selects the {word} method. The default is <code>fast</code>.",
                "fast",
            ),
        ]
        dl = "".join(
            f'<dt><span class="term"><code class="varname">{n}</code> (<code class="type">{t}</code>)</span>'
            f"</dt><dd><p>{d}</p></dd>"
            for n, t, d, _ in family
        )
        _page(out / f"settings-{word}.html", f"19.9. {word.title()} Settings", _variable_list(dl))
        questions += [(f"What is the default value of {n}?", v) for n, _, _, v in family]
    for part in range(2):
        dl = "".join(entries[part * 20 : (part + 1) * 20])
        _page(
            out / f"settings{part + 1}.html", f"19.{part + 4}. Settings Part {part + 1}", _variable_list(dl)
        )
    return questions


def columns(out: Path) -> list[Question]:
    rng = random.Random(3)
    names = [
        "queue.size",
        "queue.timeoutenqueue",
        "queue.workerthreads",
        "action.resumeretrycount",
        "action.resumeinterval",
        "file.iomode",
        "file.flushinterval",
        "file.createmode",
        "stream.maxbytes",
        "net.keepalive",
        "net.keepaliveprobes",
        "ratelimit.interval",
        "ratelimit.burst",
        "tls.cacheexpiry",
        "db.batchsize",
        "db.retrydelay",
        "log.rotatesize",
        "log.keepfiles",
        "http.maxconn",
        "http.idletimeout",
    ]
    rows: list[str] = []
    questions: list[Question] = []
    for name in names:
        kind = rng.choice(["integer", "size", "word", "binary"])
        default = rng.choice(
            ["0", "1", "10", "30", "100", "512", "1000", "10000", "on", "off", "buffered", "0644"]
        )
        group, key = name.split(".")
        desc = (
            f"Sets how {key} behaves for the {group} subsystem. Larger values use more memory. "
            "See the chapter on tuning for details."
        )
        rows.append(
            f"<tr><td><code>{name}</code></td><td>{kind}</td><td>{default}</td><td>no</td><td>{desc}</td></tr>"
        )
        questions.append((f"What is the default value of {name}?", default))
    _page(
        out / "module.html",
        "Module parameters",
        "<p>The following parameters are available.</p><table><thead><tr><th>Parameter</th><th>Type</th>"
        "<th>Default</th><th>Mandatory</th><th>Description</th></tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table>",
    )
    return questions


def codes(out: Path) -> list[Question]:
    rng = random.Random(11)
    words = [
        "buffer",
        "channel",
        "cursor",
        "digest",
        "handle",
        "index",
        "journal",
        "ledger",
        "mailbox",
        "packet",
        "quota",
        "record",
        "segment",
        "session",
        "signal",
        "socket",
        "stream",
        "ticket",
        "token",
        "volume",
    ]
    states = [
        "overflow",
        "expired",
        "corrupted",
        "missing",
        "locked",
        "truncated",
        "rejected",
        "busy",
        "invalid",
        "exhausted",
    ]
    rows: list[str] = []
    questions: list[Question] = []
    used: set[str] = set()
    for cls in range(10, 70, 3):
        rows.append(f'<tr><td colspan="2">Class {cls} — {rng.choice(words).title()} Conditions</td></tr>')
        for n in range(rng.randint(3, 6)):
            code = f"{cls}{rng.choice('0P')}{n:02d}"
            name = f"{rng.choice(words)}_{rng.choice(states)}"
            if name in used:
                continue
            used.add(name)
            rows.append(f"<tr><td><code>{code}</code></td><td><code>{name}</code></td></tr>")
            questions.append((f"Which error code means {name.replace('_', ' ')}?", code))
    _page(
        out / "errcodes.html",
        "Appendix A. Error Codes",
        "<p>All messages emitted by the server are assigned five-character error codes. Applications "
        "should test the error code rather than the text of the message.</p><table><thead><tr>"
        f"<th>Error Code</th><th>Condition Name</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
        heading="h1",
    )
    # Prose that names the conditions without their codes, as a manual's chapters do.
    prose = "".join(
        f"<p>When a {name.split('_')[0]} is {name.split('_')[1]}, the server reports an error and the "
        "operation is rolled back.</p>"
        for name in sorted(used)[::4]
    )
    _page(out / "errors.html", "Error handling", prose)
    return questions


def functions(out: Path) -> list[Question]:
    # name | arguments | description | example
    table = """
abs|numeric|Absolute value|abs(-17.4) → 17.4
cbrt|double precision|Cube root|cbrt(64.0) → 4
ceil|numeric|Nearest integer greater than or equal to argument|ceil(42.2) → 43
degrees|double precision|Converts radians to degrees|degrees(0.5) → 28.6
div|y numeric, x numeric|Integer quotient of y/x (truncates towards zero)|div(9, 4) → 2
exp|numeric|Exponential (e raised to the given power)|exp(1.0) → 2.718
factorial|bigint|Factorial|factorial(5) → 120
floor|numeric|Nearest integer less than or equal to argument|floor(-42.8) → -43
gcd|numeric, numeric|Greatest common divisor; returns 0 if both inputs are zero|gcd(1071, 462) → 21
lcm|numeric, numeric|Least common multiple; returns 0 if either input is zero|lcm(1071, 462) → 23562
ln|numeric|Natural logarithm|ln(2.0) → 0.693
log10|numeric|Base 10 logarithm|log10(1000) → 3
mod|y numeric, x numeric|Remainder of y/x|mod(9, 4) → 1
pi||Approximate value of π|pi() → 3.14159
power|a numeric, b numeric|a raised to the power of b|power(9, 3) → 729
radians|double precision|Converts degrees to radians|radians(45.0) → 0.785
round|numeric|Rounds to nearest integer. Ties are broken by rounding away from zero.|round(42.4) → 42
scale|numeric|Scale of the argument (the number of decimal digits in the fractional part)|scale(8.41) → 2
sign|numeric|Sign of the argument (-1, 0, or +1)|sign(-8.4) → -1
sqrt|numeric|Square root|sqrt(2) → 1.414
trim_scale|numeric|Reduces the value's scale by removing trailing zeroes|trim_scale(8.4100) → 8.41
trunc|numeric|Truncates to integer (towards zero)|trunc(42.8) → 42
random||Returns a random value in the range 0.0 <= x < 1.0|random() → 0.897
setseed|double precision|Sets the seed for subsequent random() calls|setseed(0.12345)
"""
    funcs = [line.split("|") for line in table.strip().splitlines()]
    rows = "".join(
        f'<tr><td class="func_table_entry"><p class="func_signature"><code class="function">{n}</code> '
        f"( {a} ) → numeric</p><p>{d}</p><p><code>{e}</code></p></td></tr>"
        for n, a, d, e in funcs
    )
    _page(
        out / "functions-math.html",
        "9.3. Mathematical Functions",
        "<p>Table 9.5 shows the available mathematical functions.</p><table><caption>Table 9.5. "
        'Mathematical Functions</caption><thead><tr><th class="func_table_entry"><p>Function</p>'
        f"<p>Description</p><p>Example(s)</p></th></tr></thead><tbody>{rows}</tbody></table>",
    )
    asked = {
        "cbrt": "computes the cube root",
        "ceil": "returns the nearest integer greater than or equal to its argument",
        "degrees": "converts radians to degrees",
        "div": "returns the integer quotient",
        "gcd": "returns the greatest common divisor",
        "lcm": "returns the least common multiple",
        "ln": "returns the natural logarithm",
        "log10": "returns the base 10 logarithm",
        "mod": "returns the remainder of a division",
        "radians": "converts degrees to radians",
        "sign": "returns the sign of its argument",
        "sqrt": "computes the square root",
        "trim_scale": "removes trailing zeroes from a number's scale",
        "trunc": "truncates a number towards zero",
        "setseed": "sets the seed for random()",
    }
    return [(f"Which function {what}?", name) for name, what in asked.items()]


def notes(out: Path) -> list[Question]:
    rng = random.Random(5)
    kinds = ["Note", "Tip", "Warning", "Caution", "Important"]
    entries: list[str] = []
    questions: list[Question] = []
    for n, noun in enumerate(
        ["cache", "spill", "sort", "merge", "flush", "probe", "fetch", "prune", "scan", "queue"]
    ):
        name = f"{noun}_buffer_size"
        value = f"{rng.choice([4, 8, 16, 32, 64, 128])}MB"
        kind = kinds[n % len(kinds)]
        entries.append(
            f'<dt><span class="term"><code class="varname">{name}</code> (<code class="type">integer</code>)'
            f"</span></dt><dd><p>Sets the memory used to {noun} rows before they are written out.</p>"
            f'<div class="{kind.lower()}"><h3 class="title">{kind}</h3><p>On small machines the {noun} '
            f"buffer should be kept small, since it is allocated per session.</p></div>"
            f"<p>The default is <code>{value}</code>. This parameter can be set per session.</p></dd>"
        )
        questions.append((f"What is the default value of {name}?", value))
    _page(out / "runtime-memory.html", "20.4. Memory", _variable_list("".join(entries)))
    return questions


def references(out: Path) -> list[Question]:
    # Command reference pages, one per object kind, each with the same parameters and a synopsis
    # whose choices are separated by bars. Scored on the answer's first piece, not a short
    # answer: "text:" marks the phrase it must hold.
    questions: list[Question] = []
    for kind in ["table", "view", "index", "sequence", "schema", "function", "trigger", "domain"]:
        title = f"DROP {kind.upper()}"
        params = {
            "IF EXISTS": f"Do not throw an error if the {kind} does not exist. A notice is issued then.",
            "CASCADE": f"Automatically drop objects that depend on the {kind}, and in turn all objects that "
            "depend on those objects.",
            "RESTRICT": f"Refuse to drop the {kind} if any objects depend on it. This is the default.",
        }
        dl = "".join(
            f'<dt><span class="term"><code class="literal">{t}</code></span></dt><dd><p>{d}</p></dd>'
            for t, d in params.items()
        )
        (out / f"sql-drop{kind}.html").write_text(
            f'<html><head><title>{title}</title></head><body><div class="refentry"><h2>{title}</h2>'
            f'<p>{title} — remove a {kind}</p><h2>Synopsis</h2><pre class="synopsis">{title} '
            "[ IF EXISTS ] name [, ...] [ CASCADE | RESTRICT ]</pre><h2>Description</h2>"
            f"<p>{title} removes an existing {kind} from the database. Only its owner can drop a {kind}. "
            f"The {kind} is removed together with everything that exists only for it.</p>"
            f'<h2>Parameters</h2><dl class="variablelist">{dl}</dl></div></body></html>'
        )
        questions += [
            (f"What does IF EXISTS do in {title}?", f"text:error if the {kind} does not exist"),
            (f"What does CASCADE do in {title}?", f"text:depend on the {kind},"),
        ]
    return questions


LAYOUTS: dict[str, Layout] = {
    "parameters": parameters,
    "columns": columns,
    "codes": codes,
    "functions": functions,
    "notes": notes,
    "references": references,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", choices=sorted(LAYOUTS), action="append", help="default: all")
    ap.add_argument("--show", action="store_true", help="print each miss with its answer")
    args = ap.parse_args()

    import ragline

    work = Path(tempfile.mkdtemp(prefix="ragline-layouts-"))
    try:
        docs = work / "docs"
        asked: dict[str, list[Question]] = {}
        for name in args.layout or sorted(LAYOUTS):
            (docs / name).mkdir(parents=True)
            asked[name] = LAYOUTS[name](docs / name)
        data = work / "data"
        # All layouts in one collection: each is asked beside the others' look-alike entries.
        cmd = [sys.executable, "-m", "ragline.cli.main", "ingest", str(docs), "--data-dir", str(data)]
        subprocess.run(cmd, check=True)
        engine = ragline.open(data)
        total = right = 0
        for name, questions in asked.items():
            ok = 0
            for q, want in questions:
                a = engine.ask(q)
                short = a.short.text if a.short is not None else None
                if want.startswith("text:"):
                    # The answer's first cited piece must hold the phrase.
                    good = not a.abstained and want[5:] in a.text.split(" [1]", 1)[0]
                else:
                    good = not a.abstained and short == want
                ok += good
                if args.show and not good:
                    print(f"  -- {name}: {q} want={want!r} short={short!r} answer={a.text[:160]!r}")
            what = "first pieces right" if name == "references" else "short answers exact"
            print(f"{name}: {ok}/{len(questions)} {what}")
            total += len(questions)
            right += ok
        print(f"all: {right}/{total}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
