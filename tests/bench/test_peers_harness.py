"""The pure parts of the peer benchmark (bench/peers): aggregation, percentiles, RAM estimates, report.

Runs in ragline's own environment, which has none of the peer frameworks: these modules import
only the standard library, numpy and ragline.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parents[2] / "bench" / "peers"
if str(PEERS) not in sys.path:
    sys.path.append(str(PEERS))  # appended: its module names must not shadow anything else

from peerbench.common import (  # noqa: E402
    doc_max_scores,
    evaluate,
    percentiles,
    rank_docs,
    run_entry,
)
from peerbench.data import subset  # noqa: E402
from peerbench.estimate import (  # noqa: E402
    GIB,
    estimate_ram_bytes,
    estimate_seconds,
    extrapolate,
    model_ram_bytes,
    per_chunk_bytes,
)
from peerbench.report import (  # noqa: E402
    SECTION_BEGIN,
    SECTION_END,
    beir_table,
    demote_headings,
    fmt,
    losses,
    md_table,
    render_document,
    scale_table,
    splice_section,
    variants_table,
)

# -- doc-level aggregation: max over a document's chunks ------------------------------------------


def test_doc_score_is_the_max_over_its_chunks():
    hits = [("a", 0.5), ("b", 0.9), ("a", 0.95), ("c", 0.1), ("b", 0.2)]
    assert doc_max_scores(hits) == {"a": 0.95, "b": 0.9, "c": 0.1}
    assert rank_docs(hits) == ["a", "b", "c"]


def test_rank_docs_keeps_system_order_on_ties_and_cuts_depth():
    # RRF often ties; trec_eval would break ties by doc id, we keep the system's own order.
    hits = [("z", 1.0), ("a", 1.0), ("m", 0.5), ("z", 0.4)]
    assert rank_docs(hits) == ["z", "a", "m"]
    assert rank_docs(hits, depth=2) == ["z", "a"]


def test_rank_docs_drops_the_query_id():
    assert rank_docs([("q1", 1.0), ("d", 0.5)], exclude="q1") == ["d"]


def test_run_entry_reproduces_the_ranking_under_trec_eval_ordering():
    ranked = ["b", "a", "c"]
    entry = run_entry(ranked)
    assert sorted(entry, key=lambda d: (entry[d], d), reverse=True) == ranked


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        doc_max_scores([("a", float("nan"))])


def test_evaluate_on_aggregated_runs():
    qrels = {"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 2}}
    run = {"q1": run_entry(rank_docs([("d1", 0.2), ("d9", 0.9), ("d1", 0.95)])), "q2": {}}
    m = evaluate(run, qrels)
    assert m["queries"] == 2
    assert m["ndcg@10"] == pytest.approx(0.5)  # q1 perfect, q2 nothing
    assert m["recall@100"] == pytest.approx(0.5)


# -- percentiles ----------------------------------------------------------------------------------


def test_percentiles_match_numpy_linear_interpolation():
    import numpy as np

    xs = [0.010, 0.002, 0.030, 0.004, 0.100, 0.007, 0.005]
    p = percentiles(xs)
    assert p["p50_ms"] == pytest.approx(float(np.percentile(np.array(xs) * 1000, 50)), abs=1e-3)
    assert p["p95_ms"] == pytest.approx(float(np.percentile(np.array(xs) * 1000, 95)), abs=1e-3)
    assert p["n"] == 7
    assert percentiles([0.001])["p95_ms"] == pytest.approx(1.0)
    assert percentiles([])["n"] == 0


# -- RAM and time estimates for the scale part ----------------------------------------------------


def test_python_float_lists_make_llamaindex_and_haystack_heavy():
    # 384 floats as Python objects cost ~12 KB a chunk; FAISS keeps 1.5 KB of float32.
    assert per_chunk_bytes("llamaindex") > 12_000
    assert per_chunk_bytes("haystack") > per_chunk_bytes("llamaindex")
    assert per_chunk_bytes("langchain") < per_chunk_bytes("llamaindex")
    assert per_chunk_bytes("ragline") < per_chunk_bytes("langchain")
    assert model_ram_bytes("haystack", 1_000_000) > 18 * GIB
    assert model_ram_bytes("ragline", 1_000_000) < 5 * GIB
    with pytest.raises(ValueError):
        per_chunk_bytes("nope")


def test_ram_estimate_takes_the_larger_of_model_and_measurement():
    model = model_ram_bytes("langchain", 1_000_000)
    assert estimate_ram_bytes("langchain", 1_000_000) == model
    # A measured 100k peak far above the model dominates, extrapolated linearly from the base.
    est = estimate_ram_bytes("langchain", 1_000_000, measured=(100_000, 3 * GIB))
    assert est == pytest.approx(extrapolate(100_000, 3 * GIB, 1_000_000, 0.6 * GIB))
    assert est > model
    assert extrapolate(10, 5.0, 100, base=1.0) == pytest.approx(41.0)


def test_time_estimate_caps_the_query_loop():
    # build 10 s and 1 s/query at 100k -> at 1M: build 110 s, queries 10 s each, cap 120 s.
    def at_1m(per_query_s: float) -> float:
        return estimate_seconds(
            100_000,
            10.0,
            per_query_s,
            1_000_000,
            max_queries=100,
            min_queries=3,
            warmup=3,
            query_cap_s=120.0,
            overhead_s=0.0,
        )

    assert at_1m(1.0) == pytest.approx(110.0 + 120.0 + 10.0)
    # Very slow queries: the minimum number still runs, past the cap.
    slow = at_1m(10.0)
    assert slow == pytest.approx(110.0 + 600.0 + 100.0)


def test_scale_plan_skips_what_would_not_fit():
    from scale import plan

    ok, reason, est = plan(
        "haystack", 1_000_000, None, ram_limit=16 * GIB, seconds_left=3600, query_cap_s=120
    )
    assert not ok and "GiB" in reason and est["est_ram_gib"] > 16
    prev = {
        "ok": True,
        "n": 100_000,
        "peak_rss_bytes": 1 * GIB,
        "build_s": 60.0,
        "latency": {"mean_ms": 500.0},
    }
    ok, reason, _ = plan("langchain", 1_000_000, prev, ram_limit=20 * GIB, seconds_left=300, query_cap_s=120)
    assert not ok and "time budget" in reason
    ok, reason, _ = plan("ragline", 1_000_000, prev, ram_limit=20 * GIB, seconds_left=3600, query_cap_s=120)
    assert ok and reason == ""


# -- report -----------------------------------------------------------------------------------------


def test_md_table_and_formatting():
    t = md_table(["a", "b"], [["x|y", 1], ["z", fmt(1234.567, 1)]])
    assert t.splitlines() == ["| a | b |", "|---|---:|", "| x\\|y | 1 |", "| z | 1,234.6 |"]
    assert fmt(None) == "-" and fmt(float("nan")) == "-" and fmt(1500) == "1,500"
    with pytest.raises(ValueError):
        md_table(["a"], [["x", "y"]])


def _res(system, ndcg, p50, ok=True, **kw):
    r = {
        "system": system,
        "ok": ok,
        "metrics": {"ndcg@10": ndcg, "recall@100": 0.9},
        "cold_ingest_s": 100.0,
        "reingest_s": 1.0,
        "latency": {"p50_ms": p50, "p95_ms": p50 * 2},
        "throughput": {"qps": 10.0},
        "peak_rss_bytes": 2**30,
        "disk_bytes": 2**20,
        "description": system,
    }
    r.update(kw)
    return r


def test_beir_table_bolds_the_best_and_marks_failures():
    rows = [_res("ragline", 0.7, 5.0), _res("langchain", 0.72, 9.0), {"system": "haystack", "ok": False}]
    t = beir_table(rows)
    assert "| ragline | 0.700 |" in t and "**0.720**" in t and "**5.0**" in t
    assert "| Haystack | failed |" in t


def test_losses_lists_every_figure_a_peer_wins():
    beir = {
        "scifact": [
            _res("ragline", 0.70, 5.0),
            _res("langchain", 0.72, 9.0, cold_ingest_s=50.0),
            _res("haystack", 0.7005, 3.0),
        ]
    }
    got = {(x["figure"], x["winner"]) for x in losses(beir)}
    assert ("nDCG@10", "langchain") in got
    assert ("cold ingest (s)", "langchain") in got
    assert ("query p50 (ms)", "haystack") in got
    # 0.0005 better on nDCG is rounding noise, not a loss.
    assert not any(x["figure"] == "nDCG@10" and x["winner"] == "haystack" for x in losses(beir))
    scale = [
        {
            "system": "ragline",
            "n": 10,
            "ok": True,
            "latency": {"p50_ms": 2.0, "p95_ms": 3.0},
            "peak_rss_bytes": GIB,
        },
        {
            "system": "langchain",
            "n": 10,
            "ok": True,
            "latency": {"p50_ms": 1.0, "p95_ms": 4.0},
            "peak_rss_bytes": 2 * GIB,
        },
    ]
    sl = losses({}, scale)
    assert [(x["figure"], x["winner"]) for x in sl] == [("scale query p50 (ms)", "langchain")]


def test_scale_table_shows_skip_reasons():
    t = scale_table(
        [
            {"system": "haystack", "n": 1_000_000, "ok": False, "error": "skipped: 25 GiB"},
            {
                "system": "ragline",
                "n": 1_000_000,
                "ok": True,
                "build_s": 10.0,
                "peak_rss_bytes": GIB,
                "latency": {"p50_ms": 5.0, "p95_ms": 9.0, "n": 100},
                "target_at_10": 0.97,
            },
        ]
    )
    lines = t.splitlines()
    assert "ragline" in lines[2] and "Haystack" in lines[3] and "skipped: 25 GiB" in lines[3]


def test_render_document_has_every_section():
    res = {
        "command": "bench/peers/.venv/bin/python bench/peers/run.py",
        "date_cmd": "today",
        "machine": {"Model name": "cpu", "nproc": 2},
        "versions": {"ragline": "0.1.0"},
        "datasets": {"scifact": {"docs": 10, "queries": 2, "truncated_docs": 1, "mean_tokens": 100.0}},
        "beir": {"scifact": [_res("ragline", 0.7, 5.0), _res("llamaindex", 0.72, 9.0)]},
        "scale": [],
        "total_wall_s": 60.0,
    }
    doc = render_document(res, ["img/peers-quality.png"])
    for needle in (
        "# ragline vs",
        "bench/peers/run.py",
        "## Machine",
        "## Versions",
        "## scifact",
        "## Where ragline loses, and why",
        "![peers-quality](img/peers-quality.png)",
        "LlamaIndex",
    ):
        assert needle in doc, needle


def test_demote_headings_leaves_code_fences_alone():
    md = "# Title\n\ntext\n\n```bash\n# a shell comment\n```\n## Part\n"
    assert demote_headings(md) == "## Title\n\ntext\n\n```bash\n# a shell comment\n```\n### Part\n"


def test_splice_section_replaces_only_the_marked_part():
    doc = (
        f"# Benchmarks\n\n## Before\nkept\n\n{SECTION_BEGIN}\nold report\n{SECTION_END}\n\n"
        "## After\nkept too\n"
    )
    out = splice_section(doc, "# ragline vs peers\n\n## scifact\nnew table\n")
    assert out.startswith("# Benchmarks\n\n## Before\nkept\n")
    assert out.endswith(f"{SECTION_END}\n\n## After\nkept too\n")
    assert "old report" not in out
    assert "## ragline vs peers" in out and "### scifact" in out
    # Idempotent: splicing the same report again gives the same document.
    assert splice_section(out, "# ragline vs peers\n\n## scifact\nnew table\n") == out


def test_splice_section_without_markers_says_what_to_do():
    with pytest.raises(ValueError, match="add both markers"):
        splice_section("# Benchmarks\n", "# report\n")


def test_variants_table_sits_beside_the_default():
    r = _res("ragline", 0.73, 5.0)
    r["variants"] = {"rrf60": {"ndcg@10": 0.7211, "recall@100": 0.95}}
    r["variant_descriptions"] = {"rrf60": "RRF k=60"}
    table = variants_table([r, _res("haystack", 0.68, 9.0)])
    lines = table.splitlines()
    assert len(lines) == 3  # header, rule, one variant row; Haystack has none
    assert lines[2].split(" | ")[1:5] == ["RRF k=60", "0.721", "0.950", "0.730"]
    assert variants_table([_res("haystack", 0.68, 9.0)]) == ""


def test_subset_keeps_queries_judged_on_the_kept_documents():
    keep, q, r = subset(
        ["d1", "d2", "d3"], {"q1": "a", "q2": "b"}, {"q1": {"d1": 1, "d9": 1}, "q2": {"d3": 1}}, 2
    )
    assert keep == {"d1", "d2"} and q == {"q1": "a"} and r == {"q1": {"d1": 1}}


def test_glance_table_says_why_a_size_is_missing():
    from peerbench.report import glance_table

    res = {
        "systems": ["ragline", "haystack"],
        "beir": {"scifact": [_res("ragline", 0.7, 5.0), _res("haystack", 0.68, 9.0)]},
        "scale": [
            {"system": "ragline", "n": 1000, "ok": True, "latency": {"p50_ms": 3.0}},
            {"system": "haystack", "n": 1000, "ok": False, "error": "skipped: estimated 21.0 GiB peak RSS"},
        ],
    }
    t = glance_table(res)
    assert "| ragline | 0.700 | 1.00 | 3.0 |" in t
    assert "| Haystack | 0.680 | 1.00 | did not fit in RAM |" in t
