"""SQL rows: an SQLAlchemy URL and a query; each row becomes one document.

The row's ``id_column`` names it (source key ``sql:<source name>/<id>``), its ``text_columns`` are
its text (joined by blank lines), ``title_column`` its title and ``metadata_columns`` its
filterable metadata. A row's version is its ``version_column`` (e.g. an ``updated_at`` or a
row-version counter) or, without one, a hash of the whole row; a row whose version the collection
holds is not embedded again, and a row the query no longer returns is deleted.

Example::

    ragline sources add faq --type sql --url sqlite:///faq.db \\
        --query "SELECT id, question, answer, lang FROM faq" --id-column id \\
        --text-column question --text-column answer --metadata-column lang --collection faq
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from ragline.cleaning.text import clean_text
from ragline.errors import ConfigError, LoaderError
from ragline.ingest.pipeline import SourceItem
from ragline.loaders.registry import metadata_problem, text_problem
from ragline.settings import Settings
from ragline.sources.base import Scan, SourceConfig
from ragline.store.filters import FIELD_RE
from ragline.types import Document, Metadata, MetadataValue

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SqlEngine


class SqlConfig(SourceConfig):
    """Options of an SQL source. Column names are matched as the query returns them."""

    type: Literal["sql"] = "sql"
    url: str = Field(min_length=1)
    query: str = Field(min_length=1)
    id_column: str = Field(min_length=1)
    text_columns: tuple[str, ...] = Field(min_length=1)
    title_column: str | None = None
    metadata_columns: tuple[str, ...] = ()
    # A column that changes whenever the row does; None: a hash of the whole row.
    version_column: str | None = None

    def claims(self, name: str) -> tuple[str, ...]:
        return (f"sql:{name}/",)

    @field_validator("metadata_columns")
    @classmethod
    def _fields(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in columns if not FIELD_RE.match(c)]
        if bad:
            raise ValueError(
                f"metadata column(s) {bad} cannot be metadata fields (letters, digits, underscores); "
                'rename them in the query (SELECT "my col" AS my_col ...)'
            )
        return columns

    @field_validator("url")
    @classmethod
    def _driver(cls, url: str) -> str:
        # SQLAlchemy reads postgresql:// as psycopg2, which ragline does not install; psycopg
        # (version 3) is the driver its postgres extra brings.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url


_PASSWORD = re.compile(r"(://[^/:@]*):[^/@]*@")


def safe_url(url: str) -> str:
    """An SQLAlchemy URL with its password replaced by ``***``, for messages and listings."""
    return _PASSWORD.sub(r"\1:***@", url)


def _sqlalchemy() -> ModuleType:
    try:
        import sqlalchemy
    except ImportError as exc:
        raise ConfigError("the sql source needs SQLAlchemy: pip install 'ragline[sql]'") from exc
    return sqlalchemy


def _metadata_value(value: Any) -> MetadataValue | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    return str(value)


def _row_hash(row: Mapping[str, Any]) -> str:
    data = json.dumps({k: row[k] for k in sorted(row)}, default=str, sort_keys=True)
    return "row:" + hashlib.sha256(data.encode()).hexdigest()


class SqlSource:
    """Syncs the rows of one query (see the module docstring)."""

    def __init__(self, config: SqlConfig, settings: Settings, name: str) -> None:
        self.config = config
        self.settings = settings
        self.prefix = config.claims(name)[0]
        self._engine: SqlEngine | None = None

    def owns(self, key: str, cursor: Mapping[str, Any]) -> bool:
        return key.startswith(self.prefix)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _connect(self) -> SqlEngine:
        if self._engine is None:
            sqlalchemy = _sqlalchemy()
            try:
                self._engine = sqlalchemy.create_engine(self.config.url)
            except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
                raise ConfigError(
                    f"cannot use SQL URL {safe_url(self.config.url)}: {exc}; give an SQLAlchemy URL such as "
                    "sqlite:///path.db or postgresql://user@host/db"
                ) from exc
        return self._engine

    def scan(self, cursor: Mapping[str, Any]) -> Scan:
        scan = Scan(items=iter(()), complete=True)
        scan.items = self._items(scan)
        return scan

    def _items(self, scan: Scan) -> Iterator[SourceItem]:
        sqlalchemy = _sqlalchemy()

        cfg = self.config
        try:
            with self._connect().connect() as conn:
                result = conn.execution_options(stream_results=True).execute(sqlalchemy.text(cfg.query))
                columns = list(result.keys())
                wanted = [cfg.id_column, *cfg.text_columns, *cfg.metadata_columns]
                wanted += [c for c in (cfg.title_column, cfg.version_column) if c]
                missing = [c for c in wanted if c not in columns]
                if missing:
                    raise ConfigError(
                        f"the query of SQL source {self.prefix[4:-1]!r} returns no column(s) {missing}; "
                        f"it returns {columns}: fix the column options or the query"
                    )
                seen: set[str] = set()
                for row in result.mappings():
                    key = f"{self.prefix}{row[cfg.id_column]}"
                    if key in seen:
                        raise ConfigError(
                            f"id column {cfg.id_column!r} holds {row[cfg.id_column]!r} twice; "
                            "choose a unique id column"
                        )
                    seen.add(key)
                    values = dict(row)
                    version = str(values[cfg.version_column]) if cfg.version_column else _row_hash(values)
                    yield SourceItem(key, version, partial(self._document, scan, key, values))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise ConfigError(f"SQL source at {safe_url(self.config.url)} failed: {exc}") from exc

    def _document(self, scan: Scan, key: str, row: Mapping[str, Any]) -> list[Document]:
        # Every row is read by the query; "fetched" counts the rows turned into documents.
        scan.fetched += 1
        cfg = self.config
        parts = [str(row[c]) for c in cfg.text_columns if row[c] is not None and str(row[c]).strip()]
        text = clean_text("\n\n".join(parts))
        if not text:
            return []
        metadata: Metadata = {}
        for c in cfg.metadata_columns:
            value = _metadata_value(row[c])
            if value is not None:
                metadata[c] = value
        title = " ".join(str(row[cfg.title_column] or "").split()) if cfg.title_column else ""
        doc = Document(id=key, source=key, text=text, metadata=metadata, title=title)
        problem = metadata_problem(doc, self.settings.loaders) or text_problem(doc, self.settings.loaders)
        if problem is not None:
            raise LoaderError(key, problem)
        return [doc]
