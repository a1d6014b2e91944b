"""The quality gate: run datasets with the configured settings and compare each metric with a
recorded baseline; a metric that fell by more than its tolerance fails the gate.

The baseline file (JSON, written by ``ragline eval gate ... --write-baseline FILE``)::

    {"version": 1,
     "tolerances": {"default": 0.02},          # absolute drop allowed; per metric name too
     "metrics": {"scifact-slice/ndcg@10": 0.6514, "golden/hit@10": 0.9}}

A metric's tolerance is ``tolerances[<dataset>/<metric>]``, else ``tolerances[<metric>]`` (e.g.
"ndcg@10"), else ``tolerances["default"]``, else :data:`DEFAULT_TOLERANCE`. Metrics not in the
baseline are reported but never fail; a baseline metric the run lacks fails.

Example::

    current = run_datasets(engine, [Path("bench/gate/scifact-slice")])
    failures = check(current, load_baseline(Path("bench/gate/baseline.json")))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragline.errors import DatasetError

if TYPE_CHECKING:
    from ragline.engine import Engine

# An absolute drop of 0.02 (two points of nDCG or recall): above the run-to-run noise of a
# fixed index (0: the search is deterministic), below the smallest change worth a review.
DEFAULT_TOLERANCE = 0.02
# What the gate records per dataset.
GATED = {"beir": ("ndcg@10", "recall@10", "mrr@10"), "golden": ("ndcg@10", "recall@10", "hit@1", "hit@10")}


@dataclass(frozen=True, slots=True)
class Failure:
    metric: str
    baseline: float
    current: float | None
    tolerance: float

    @property
    def drop(self) -> float:
        return self.baseline - (self.current if self.current is not None else 0.0)

    def message(self) -> str:
        if self.current is None:
            return f"{self.metric}: in the baseline ({self.baseline:.4f}) but not measured; run its dataset"
        return (
            f"{self.metric} fell by {self.drop:.4f} ({self.baseline:.4f} -> {self.current:.4f}), "
            f"more than its tolerance {self.tolerance:.4f}"
        )


def run_datasets(engine: Engine, datasets: Sequence[Path], *, limit: int | None = None) -> dict[str, float]:
    """``<dataset>/<metric>`` -> value for each BEIR folder or golden file in ``datasets``."""
    from ragline.eval.golden import run_golden
    from ragline.eval.runner import run_beir

    out: dict[str, float] = {}
    for path in datasets:
        if path.is_dir():
            r = run_beir(engine, path, limit=limit)
            out |= {f"{r.dataset}/{m}": r.metrics[m] for m in GATED["beir"]}
        elif path.is_file():
            g = run_golden(engine, path)
            out |= {f"{g.name}/{m}": g.metrics[m] for m in GATED["golden"]}
        else:
            raise DatasetError(f"{path} is neither a BEIR dataset folder nor a golden-set file")
    return out


def tolerance(metric: str, tolerances: Mapping[str, float]) -> float:
    """The tolerance of ``<dataset>/<metric>`` (see the module docstring for the order)."""
    short = metric.split("/", 1)[-1]
    for key in (metric, short, "default"):
        if key in tolerances:
            return float(tolerances[key])
    return DEFAULT_TOLERANCE


def check(current: Mapping[str, float], baseline: Mapping[str, Any]) -> list[Failure]:
    """The baseline metrics that fell by more than their tolerance (or were not measured)."""
    tolerances = baseline.get("tolerances", {})
    failures = []
    for metric, value in sorted(baseline["metrics"].items()):
        tol = tolerance(metric, tolerances)
        now = current.get(metric)
        if now is None or float(value) - now > tol + 1e-12:
            failures.append(Failure(metric, float(value), now, tol))
    return failures


def load_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"baseline {path} does not exist; record one with --write-baseline {path}"
        ) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"baseline {path} is not JSON: {exc}") from None
    metrics, tolerances = data.get("metrics"), data.get("tolerances", {})
    if not isinstance(metrics, dict) or not all(isinstance(v, int | float) for v in metrics.values()):
        raise DatasetError(f'baseline {path} needs "metrics": {{"<dataset>/<metric>": number}}')
    if not isinstance(tolerances, dict) or not all(
        isinstance(v, int | float) and v >= 0 for v in tolerances.values()
    ):
        raise DatasetError(f'baseline {path}: "tolerances" must map metric names to numbers >= 0')
    return dict(data)


def write_baseline(
    path: Path, current: Mapping[str, float], tolerances: Mapping[str, float] | None = None
) -> None:
    """Record ``current`` as the baseline, with ``tolerances`` (default: ``{"default": 0.02}``)."""
    body = {
        "version": 1,
        "tolerances": dict(tolerances or {"default": DEFAULT_TOLERANCE}),
        "metrics": {k: round(v, 6) for k, v in sorted(current.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
