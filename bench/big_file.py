"""Peak memory and outcome of ingesting one large plain-text file with the default settings.

Writes a file of English-like sentences (deterministic, in 1 MB blocks, so writing it costs no
memory) into a temporary folder, then runs a cold ``engine.ingest`` of it into a fresh data
directory, through the real Engine: load, size checks, clean, chunk, embed, store. Prints the
outcome (indexed, or the per-file error) and the process's peak resident memory, next to the
peak after the engine was opened and its model warmed up (the part the file itself adds is the
difference).

    .venv/bin/python bench/big_file.py [--mb 200] [--json] [--set loaders.max_document_chars=N]

Issue 21 found a 200 MB file growing to 21.7 GB before the kernel killed the ingest with no
message; the file must now be refused as a per-file error, with the process staying small.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from benchlib import print_result  # noqa: E402

import ragline  # noqa: E402

_VOCABULARY = """the of and to in is was for that with as on by at from this be are an which or it has
had not were but have their its more also than other into after first two time new these some used
system data model river city music report energy market policy school water history light engine
protein cell signal method result analysis network value process region council"""


def _peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_text(path: Path, size_bytes: int, seed: int = 7) -> None:
    """``size_bytes`` of ASCII sentences and paragraphs, written 1 MB at a time."""
    rng = random.Random(seed)
    words = _VOCABULARY.split()
    written = 0
    with path.open("w", encoding="ascii") as f:
        while written < size_bytes:
            parts: list[str] = []
            block = 0
            while block < 1_000_000:
                words = rng.choices(words, k=rng.randint(8, 24))
                sentence = " ".join(words).capitalize() + ". "
                if rng.random() < 0.15:
                    sentence += "\n\n"
                parts.append(sentence)
                block += len(sentence)
            text = "".join(parts)[: size_bytes - written]
            f.write(text)
            written += len(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=200.0, help="file size in MB (10^6 bytes)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting for the ingest (JSON value), e.g. loaders.max_document_chars=50000000",
    )
    args = ap.parse_args()
    overrides: dict[str, dict[str, object]] = {}
    for spec in args.set:
        key, _, value = spec.partition("=")
        section, _, name = key.partition(".")
        overrides.setdefault(section, {})[name] = json.loads(value)

    tmp = Path(tempfile.mkdtemp(prefix="ragline-big-file-"))
    try:
        out = run(tmp, args.mb, overrides)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_result(out, args.json)
    return 0


def run(tmp: Path, mb: float, overrides: dict[str, dict[str, object]]) -> dict[str, object]:
    """Write the file under ``tmp``, ingest it into ``tmp/data``, and say what happened."""
    big = tmp / "input" / "big.txt"
    big.parent.mkdir()
    t0 = time.perf_counter()
    write_text(big, int(mb * 1_000_000))
    write_s = time.perf_counter() - t0

    engine = ragline.open(tmp / "data", **overrides)
    engine.embedder.inner.embed_documents(["warm-up"])
    before = _peak_mb()
    t0 = time.perf_counter()
    report = engine.ingest([big.parent])
    return {
        "file_mb": round(big.stat().st_size / 1e6, 1),
        "write_seconds": round(write_s, 1),
        "files_indexed": report.files_indexed,
        "chunks_indexed": report.chunks_indexed,
        "errors": report.errors,
        "ingest_seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb_before_ingest": round(before, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "date": time.strftime("%Y-%m-%d"),
    }


if __name__ == "__main__":
    sys.exit(main())
