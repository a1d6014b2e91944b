"""Small corpus builders shared by tests."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ragline
from ragline.embedding.cache import CachedEmbedder
from ragline.engine import Engine
from ragline.testing.doubles import HashEmbedder
from ragline.types import Access, Document

TOPICS = {
    "linux": "Install the package with apt on Debian or Ubuntu, then enable the service with systemd.",
    "windows": "Run the installer, accept the licence, and add the program folder to PATH.",
    "backup": "Snapshots are taken nightly and kept for thirty days in object storage.",
    "billing": "Invoices are issued monthly; refunds are processed within ten business days.",
    "security": "Rotate API keys every ninety days and never commit secrets to version control.",
    "network": "Open port 8443 on the firewall and configure the reverse proxy for TLS termination.",
}
FILLER = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]


def fast_engine(path: Path, **settings: Any) -> Engine:
    """``ragline.open(path, **settings)`` on the in-process store twin with the model-free
    :class:`HashEmbedder` (behind the engine's usual embedding cache), no token states and no
    reranker unless asked for: the engine's own ingest, search and context code, without ONNX or
    LanceDB. Reopening the same ``path`` finds the data."""
    store = {"backend": "memory", **settings.pop("store", {})}
    # The hash embedder has no token states (chunking.token_states "auto" would ask for them).
    chunking = {"token_states": "off", **settings.pop("chunking", {})}
    # The default late-interaction reranker loads the real model: off unless asked for.
    retrieval = {"rerank": [], **settings.pop("retrieval", {})}
    engine = ragline.open(path, store=store, chunking=chunking, retrieval=retrieval, **settings)
    engine.embedder = CachedEmbedder(HashEmbedder(), engine.embedding_cache)
    return engine


# For the one test per behaviour that also runs on the real model and LanceDB: an ``open_engine``
# argument that is fast_engine, and (marked integration) ragline.open.
FAST_AND_REAL = pytest.mark.parametrize(
    "open_engine",
    [
        pytest.param(fast_engine, id="fast"),
        pytest.param(ragline.open, id="real", marks=pytest.mark.integration),
    ],
)


def paragraph(rng: random.Random, words: int = 60) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(words)).capitalize() + "."


def write_markdown_corpus(root: Path, n_files: int = 6, seed: int = 0, paragraphs: int = 4) -> list[Path]:
    """Markdown files with headings; file i carries topic sentence i (so searches have answers)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    topics = list(TOPICS.items())
    paths = []
    for i in range(n_files):
        name, sentence = topics[i % len(topics)]
        body = [
            f"# Guide {i}: {name}",
            "",
            paragraph(rng),
            "",
            f"## {name.title()} details",
            "",
            sentence,
            "",
        ]
        for _ in range(paragraphs):
            body += [paragraph(rng), ""]
        p = root / f"guide-{i:02d}-{name}.md"
        p.write_text("\n".join(body), encoding="utf-8")
        paths.append(p)
    return paths


FACTS = {
    "lighthouse.md": """---
category: history
year: 1872
---
# Harbor Lighthouse

The Harbor Lighthouse was built in 1872 by the engineer Maria Okafor. It stands 41 metres tall and
is painted with red and white bands. Its lamp was electrified in 1931, replacing the old oil burner.

## Visiting

The lighthouse is open to visitors from April to October. Tickets cost six euros for adults and
children under twelve enter for free. The climb to the gallery has 212 steps.
""",
    "bakery.md": """---
category: food
year: 2019
---
# Sourdough Baking

A sourdough starter is a fermented mixture of flour and water that leavens the bread. Feed the
starter every day with equal weights of flour and water. The dough should rest for twelve hours in
a cool place before shaping.

## Baking

Bake the loaf at 250 degrees Celsius for twenty minutes with steam, then lower the oven to 220
degrees for another twenty-five minutes. Let the bread cool for an hour before cutting it.
""",
    "volcano.md": """---
category: science
year: 2021
---
# Volcano Monitoring

Seismometers record the small earthquakes that often precede an eruption. Tiltmeters measure how
the ground swells as magma rises beneath a volcano. Gas sensors track sulphur dioxide emissions,
which usually increase before an eruption.

## Alerts

The observatory raises the alert level to orange when an eruption is likely within weeks. A red
alert means an eruption is under way or imminent, and the exclusion zone is evacuated.
""",
}


def write_fact_corpus(root: Path) -> list[Path]:
    """Three short Markdown documents with distinct, checkable facts and front-matter metadata."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in FACTS.items():
        p = root / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths


REPO_ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_server(module: str, stderr_path: Path) -> Iterator[str]:
    """Run a fake-server module that prints ``PORT n``; yields ``http://127.0.0.1:n``, then stops it.

    stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    """
    with stderr_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"{module} did not start: {line!r} {stderr_path.read_text()}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class FakeServer:
    """A running fake server: its URLs and its request log (cleared on creation)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.base_url = f"{url}/v1"
        httpx.post(f"{url}/_reset", timeout=10).raise_for_status()

    def log(self) -> list[dict[str, Any]]:
        """The requests received since the last reset."""
        entries: list[dict[str, Any]] = httpx.get(f"{self.url}/_log", timeout=10).json()
        return entries


# Two tenants' documents for access-control tests: acme's handbook (whole tenant) and salaries (group
# hr) in "kb", its roadmap in "private" (a collection only acme has); globex's volcano note, and a
# document of its own under acme's id "handbook" (the planted-id probe).
TWO_TENANTS: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...]]]] = {
    ("acme", "kb"): [
        ("handbook", "The Acme office opens at 8 am on weekdays. Visitors sign in at the front desk.", ()),
        ("salaries", "Salary reviews happen every March. The bonus pool is four percent.", ("hr",)),
    ],
    ("acme", "private"): [("roadmap", "Project Falcon launches in May after the security review.", ())],
    ("globex", "kb"): [
        ("volcano", "The observatory raises the alert level to orange when an eruption is likely.", ()),
        ("handbook", "Planted note: Globex keeps a handbook of its own under the same id.", ()),
    ],
}


def seed_two_tenants(engine: Engine) -> None:
    """Index :data:`TWO_TENANTS` (titles are the ids)."""
    for (tenant, collection), docs in TWO_TENANTS.items():
        engine.upsert_documents(
            [
                Document(id=i, source=f"{tenant}:{i}", text=t, title=i, access=Access(tenant, groups))
                for i, t, groups in docs
            ],
            collection=collection,
        )
