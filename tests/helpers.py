"""Small corpus builders shared by tests."""

from __future__ import annotations

import random
from pathlib import Path

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
