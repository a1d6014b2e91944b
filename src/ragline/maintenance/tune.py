"""Fine-tune a collection's embedding model on its own text, as a new model version.

Example::

    report, model_dir = tune_model(coll, settings, max_pairs=4000)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.collection import Collection, read_meta
from ragline.errors import ConfigError
from ragline.settings import Settings
from ragline.types import DEFAULT_TENANT

if TYPE_CHECKING:
    from ragline.tune.embeddings import TuneReport


def next_version(settings: Settings, coll: Collection) -> Path:
    """``<data_dir>/models/[<tenant>/]<collection>/v<N+1>``: models are versions, never replaced."""
    owner = coll.name if coll.tenant == DEFAULT_TENANT else f"{coll.tenant}/{coll.name}"
    versions = settings.data_dir / "models" / owner
    taken = [int(p.name[1:]) for p in versions.glob("v*") if p.name[1:].isdigit()]
    return versions / f"v{max(taken, default=0) + 1}"


def tune_model(
    coll: Collection,
    settings: Settings,
    *,
    max_pairs: int = 4000,
    epochs: int = 1,
    batch_size: int = 32,
    max_seq_length: int = 128,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[TuneReport, Path]:
    """Fine-tune the model ``coll`` searches with on label-free pairs from its own chunks (never
    evaluation data); returns the report and the new model's directory (not yet in use)."""
    from ragline.text.tokenizer import packaged_model_dir
    from ragline.tune.embeddings import build_pairs, fine_tune

    if settings.embedding.backend == "openai":
        raise ConfigError("tuning needs a local model; embedding.backend='openai' cannot be fine-tuned here")
    model_path = read_meta(coll.path).get("model_path")
    base = Path(str(model_path or settings.embedding.model_path or packaged_model_dir()))
    pairs = build_pairs(coll.store.all_chunks(), max_pairs=max_pairs)
    out = next_version(settings, coll)
    report = fine_tune(
        base,
        pairs,
        out,
        epochs=epochs,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        threads=settings.embedding.threads,
        progress=(lambda d, t: progress("fine-tuning", d, t)) if progress else None,
    )
    return report, out
