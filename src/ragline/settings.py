"""One typed settings object for the whole engine, validated at start-up.

Sources, highest priority first: keyword arguments, environment variables (``RAGLINE_`` prefix,
``__`` between nested names, e.g. ``RAGLINE_EMBEDDING__BATCH_SIZE=64``), a TOML file
(``ragline.toml`` in the working directory, or the path in ``RAGLINE_CONFIG``), then defaults.
Unknown keys anywhere are rejected, so a misspelt option never silently runs a different setup.

Example::

    from ragline.settings import Settings
    s = Settings(data_dir="/tmp/rl", retrieval={"mode": "keyword"})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ragline.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(_Strict):
    """Which embedding model runs, and how."""

    backend: Literal["onnx", "sentence-transformers", "openai"] = "onnx"
    # None means the packaged all-MiniLM-L6-v2 (onnx and sentence-transformers backends).
    model_path: Path | None = None
    # Model name sent to an OpenAI-compatible /v1/embeddings endpoint.
    model: str = "all-MiniLM-L6-v2"
    base_url: str | None = None
    api_key: str | None = None
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int = Field(default=2, ge=1, le=256)
    # Needed for the openai backend, whose dimension and tokenizer are unknown until called.
    dimension: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=256, ge=8)
    timeout_s: float = Field(default=60.0, gt=0)
    cache: bool = True

    @model_validator(mode="after")
    def _check_backend(self) -> EmbeddingSettings:
        if self.backend == "openai" and not self.base_url:
            raise ValueError(
                "embedding.backend='openai' needs embedding.base_url (e.g. http://localhost:8000/v1)"
            )
        return self


class ChunkingSettings(_Strict):
    """How documents are cut into retrievable chunks (sizes in embedding-model tokens)."""

    strategy: Literal["recursive", "structure", "parent-child"] = "structure"
    chunk_size: int = Field(default=200, ge=16)
    chunk_overlap: int = Field(default=32, ge=0)
    # Parent sections for parent-child chunking (tokens).
    parent_size: int = Field(default=1024, ge=32)

    @model_validator(mode="after")
    def _check_sizes(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunking.chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunking.chunk_size ({self.chunk_size})"
            )
        return self


class StoreSettings(_Strict):
    """The embedded LanceDB store."""

    # Above this many chunks an ANN index is built; below it, search is exact.
    ann_threshold: int = Field(default=20_000, ge=256)
    ann_ef: int = Field(default=96, ge=8)
    ann_partitions: int | None = Field(default=None, ge=1)
    # Candidates re-scored with full-precision vectors, as a multiple of top_k.
    ann_refine_factor: int = Field(default=2, ge=1, le=50)
    # Rows written per atomic commit during ingest.
    commit_chunks: int = Field(default=4096, ge=1)


class RetrievalSettings(_Strict):
    """Search defaults; per-call arguments override them."""

    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    top_k: int = Field(default=10, ge=1, le=10_000)
    fusion: Literal["rrf", "weighted"] = "rrf"
    # RRF constant from Cormack et al. (2009); 60 is the paper's value.
    rrf_k: int = Field(default=60, ge=1)
    # Weight of the dense side in weighted fusion (1 - alpha goes to keyword).
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    # Each retriever fetches this many times top_k candidates before fusion.
    candidate_multiplier: int = Field(default=4, ge=1, le=100)


class LoaderSettings(_Strict):
    """How structured files map to documents."""

    json_text_fields: tuple[str, ...] = ("text", "content", "body")
    json_title_field: str | None = "title"
    json_id_field: str | None = "_id"
    json_metadata_fields: tuple[str, ...] | None = None
    csv_mode: Literal["row", "file"] = "row"
    csv_text_columns: tuple[str, ...] | None = None
    csv_id_column: str | None = None
    max_file_mb: float = Field(default=200.0, gt=0)


def _default_data_dir() -> Path:
    return Path(".ragline")


class Settings(BaseSettings):
    """All of ragline's settings. See the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix="RAGLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "ragline")
    collection: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    loaders: LoaderSettings = LoaderSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("RAGLINE_CONFIG", "ragline.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        elif "RAGLINE_CONFIG" in os.environ:
            raise ConfigError(f"RAGLINE_CONFIG={toml_path} does not exist; point it at a TOML file")
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate :class:`Settings`, turning validation errors into a :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid ragline settings: {problems}") from None
