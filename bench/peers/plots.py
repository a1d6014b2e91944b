"""PNG plots (matplotlib, Agg) of one results.json: quality, latency, ingest, memory/disk, scale.

bench/peers/.venv/bin/python bench/peers/plots.py bench/peers/results/results.json --img docs/img
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from peerbench.report import GIB, beir_row, label

COLORS = {"ragline": "#d62728", "llamaindex": "#1f77b4", "langchain": "#2ca02c", "haystack": "#9467bd"}


def _bars(ax, beir: dict, key: str, title: str, log: bool = False, digits: int = 1) -> None:
    datasets = list(beir)
    systems = [r["system"] for r in beir[datasets[0]]] if datasets else []
    width = 0.8 / max(1, len(systems))
    for j, s in enumerate(systems):
        vals = []
        for ds in datasets:
            row = next((beir_row(r) for r in beir[ds] if r["system"] == s), {})
            vals.append(row.get(key) or 0.0)
        xs = [i + (j - (len(systems) - 1) / 2) * width for i in range(len(datasets))]
        bars = ax.bar(xs, vals, width, label=label(s), color=COLORS.get(s))
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(
                f"{v:.{digits}f}",
                (b.get_x() + b.get_width() / 2, b.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")


def plot_all(results: dict, img: Path, prefix: str = "peers-") -> list[Path]:
    img.mkdir(parents=True, exist_ok=True)
    beir = results.get("beir", {})
    out = []
    if beir:
        for name, panels in {
            "quality": [
                ("ndcg@10", "nDCG@10 (higher is better)", False, 3),
                ("recall@100", "Recall@100 (higher is better)", False, 3),
            ],
            "latency": [
                ("p50_ms", "query p50, top-10, 1 client (ms)", True, 1),
                ("p95_ms", "query p95, top-10, 1 client (ms)", True, 1),
                ("qps", "throughput, 8 clients (queries/s)", False, 1),
            ],
            "ingest": [
                ("cold_ingest_s", "cold ingest (s)", False, 0),
                ("reingest_s", "re-ingest of the unchanged corpus (s, log)", True, 2),
            ],
            "resources": [
                ("peak_rss_mib", "peak RSS (MiB)", False, 0),
                ("disk_mib", "size on disk (MiB)", True, 1),
            ],
        }.items():
            fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2))
            axes = [axes] if len(panels) == 1 else list(axes)
            for ax, (key, title, log, digits) in zip(axes, panels, strict=True):
                _bars(ax, beir, key, title, log, digits)
            axes[0].legend(fontsize=8)
            fig.tight_layout()
            p = img / f"{prefix}{name}.png"
            fig.savefig(p, dpi=110)
            plt.close(fig)
            out.append(p)
    scale = results.get("scale", [])
    if scale:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.4))
        for s in dict.fromkeys(r["system"] for r in scale):
            pts = sorted(
                (r["n"], r["latency"]["p50_ms"], r["peak_rss_bytes"] / GIB)
                for r in scale
                if r["system"] == s and r.get("ok")
            )
            if pts:
                a1.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label(s), color=COLORS.get(s))
                a2.plot([p[0] for p in pts], [p[2] for p in pts], "o-", label=label(s), color=COLORS.get(s))
            skipped = [r["n"] for r in scale if r["system"] == s and not r.get("ok")]
            for n in skipped:
                a1.annotate("x", (n, pts[-1][1] if pts else 1), color=COLORS.get(s), ha="center", fontsize=12)
        for ax, t in (
            (a1, "hybrid top-10 query p50 (ms) vs chunks (x = skipped)"),
            (a2, "peak RSS (GiB) vs chunks"),
        ):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("chunks in the collection")
            ax.set_title(t, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        a1.legend(fontsize=8)
        fig.tight_layout()
        p = img / f"{prefix}scale.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--img", type=Path, required=True)
    args = ap.parse_args()
    for p in plot_all(json.loads(args.results.read_text()), args.img):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
