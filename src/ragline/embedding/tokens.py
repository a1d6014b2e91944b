"""Contextual token embeddings ("token states") of a text, and their compact stored form.

Late-interaction reranking (ColBERT's MaxSim) matches each query token against a passage's token
embeddings. Computing a passage's tokens costs a full model pass, so they can be kept from the
chunk's own ingest run instead (``chunking.token_states``). At 384 float32 dimensions a token takes
1.5 KB, about 270 KB for a 176-token chunk. Two stored forms (``chunking.token_state_format``):

- ``int8``: one float32 scale per token and int8 values (absmax quantization, as in LLM.int8():
  Dettmers et al., NeurIPS 2022), 388 bytes a token. Blobs carry no header (the first format).
- ``pq``: product quantisation (Jégou et al., "Product quantization for nearest neighbor search",
  TPAMI 2011): the 384 dimensions split into 32 groups of 12, each stored as the index of its
  nearest of 256 centroids, 32 bytes a token. The centroids (a :class:`Codebook`) are trained once
  per model on unrelated text and ship with ragline; a blob names its codebook by id, so decoding
  needs nothing from the collection. Decoded rows are the centroids' concatenation scaled to unit
  length, so MaxSim over them is the asymmetric distance of the float query to the codes, as a
  cosine.

Example::

    blob = pack_tokens(matrix)              # (tokens, dim) float32, unit rows
    again = unpack_tokens(blob, matrix.shape[1])
    small = pack_tokens(matrix, codebook_for("all-MiniLM-L6-v2@dbc58fdc8d65"))
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragline.embedding.base import Embedder, Vectors
from ragline.embedding.shipped import shipped_for
from ragline.errors import EmbeddingError
from ragline.text.words import STOPWORDS

TokenMatrix = npt.NDArray[np.float32]


@runtime_checkable
class TokenEmbedder(Protocol):
    """An embedder that also returns each text's contextual token embeddings from the same run."""

    def embed_with_tokens(
        self, texts: Sequence[str], *, content_only: bool = False
    ) -> tuple[Vectors, list[TokenMatrix]]:
        """Vectors and token states; ``content_only`` leaves out stop words and punctuation
        (:func:`content_tokens`), as ingest stores them with ``chunking.token_state_tokens``."""
        ...


@runtime_checkable
class TokenModel(TokenEmbedder, Protocol):
    """A model late interaction can run: token states of passages and of queries."""

    @property
    def model_id(self) -> str: ...

    def query_tokens(self, text: str) -> TokenMatrix:
        """``text``'s unit-length token states (special tokens left out)."""
        ...

    def warm_up(self) -> None: ...


@runtime_checkable
class Wrapper(Protocol):
    """An embedder wrapping another (the embedding cache): it names the model that gives tokens."""

    def token_model(self) -> TokenModel | None: ...


def token_model(embedder: Embedder) -> TokenModel | None:
    """The model behind ``embedder`` that late interaction can run, or None when it has none."""
    if isinstance(embedder, Wrapper):
        return embedder.token_model()
    return embedder if isinstance(embedder, TokenModel) else None


_SCALE = np.dtype("<f4")
#: The stored forms of token states (``chunking.token_state_format``).
TokenStateFormat = Literal["int8", "pq"]
# Blobs after the first format start with these three bytes and a format byte. A headerless int8
# blob starts with a positive float32 scale of a unit row (>= 1e-4, so its last byte is >= 0x38);
# the header read as float32 is ~1e-37, which no such scale is.
_MAGIC = b"RLT"
_PQ = 2
_ID_BYTES = 8
# Codebooks shipped with ragline, one per model: <model_id>.npy, float16 (groups, 256, dim/groups).
CODEBOOK_DIR = Path(__file__).parent / "codebooks"


def token_states(
    embedder: Embedder, texts: Sequence[str], *, content_only: bool = False
) -> tuple[Vectors, list[TokenMatrix]]:
    """``texts``' vectors and token states from ``embedder``, which must be a :class:`TokenEmbedder`."""
    if not isinstance(embedder, TokenEmbedder):
        raise EmbeddingError(
            f"the embedder {embedder.model_id} gives no token states; set chunking.token_states = "
            "'off', or use embedding.backend = 'onnx'"
        )
    return embedder.embed_with_tokens(texts, content_only=content_only)


def content_tokens(wordpieces: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which wordpieces carry content: not a stop word (:data:`ragline.text.words.STOPWORDS`) and not
    punctuation alone. About a third of a passage's tokens are not; leaving their states out
    shrinks the stored states by that much for a small change in nDCG@10 (+0.0006 SciFact train,
    -0.0019 NFCorpus dev; docs/benchmarks.md, issue 26). A text with no content token keeps all."""
    keep = np.array(
        [not (w.lower() in STOPWORDS or all(not ch.isalnum() for ch in w)) for w in wordpieces], dtype=bool
    )
    return keep if keep.any() else np.ones(len(wordpieces), dtype=bool)


def token_rows(hidden: npt.NDArray[np.float32], encoding: Any, *, content_only: bool = False) -> TokenMatrix:
    """Unit-length rows of ``hidden`` (one text's token states) for its non-special tokens.

    ``encoding`` is the text's ``tokenizers`` encoding; [CLS], [SEP] and padding are left out, and
    with ``content_only`` stop words and punctuation too (:func:`content_tokens`).
    """
    special = np.asarray(encoding.special_tokens_mask, dtype=bool)
    keep = ~special
    if content_only:
        real = np.flatnonzero(keep)
        # ``encoding.tokens`` builds a new list on every access: read it once (indexing it per
        # token made this quadratic, ~4 ms a 180-token chunk).
        tokens = encoding.tokens
        keep[real] = content_tokens([tokens[i] for i in real])
    rows = np.asarray(hidden[: len(special)][keep], dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: TokenMatrix = (rows / norms).astype(np.float32, copy=False)
    return out


@dataclass(frozen=True)
class Codebook:
    """Product-quantisation centroids for one model's token states: ``(groups, 256, dim / groups)``.

    Example::

        book = Codebook(np.load("codebook.npy"))
        codes = book.encode(matrix)         # (tokens, groups) uint8
        approx = book.decode(codes)         # (tokens, dim) float32
    """

    centroids: npt.NDArray[np.float32]
    _table: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        c = np.asarray(self.centroids, dtype=np.float32)
        if c.ndim != 3 or c.shape[1] != 256 or c.shape[0] < 1:
            raise EmbeddingError(f"a codebook is (groups, 256, dim/groups) centroids, got shape {c.shape}")
        object.__setattr__(self, "centroids", c)
        # Per group, -2 c^T with |c|^2 as one more row: [x, 1] @ it is |c|^2 - 2 x.c in one matmul.
        norms = (c * c).sum(axis=2)
        table = np.concatenate([-2.0 * c.transpose(0, 2, 1), norms[:, None, :]], axis=1)
        object.__setattr__(self, "_table", np.ascontiguousarray(table, dtype=np.float32))

    @property
    def dimension(self) -> int:
        return int(self.centroids.shape[0] * self.centroids.shape[2])

    @property
    def groups(self) -> int:
        return int(self.centroids.shape[0])

    @cached_property
    def id(self) -> bytes:
        """8 bytes naming these centroids in every blob encoded with them."""
        return hashlib.sha256(self.centroids.astype("<f4").tobytes()).digest()[:_ID_BYTES]

    def encode(self, matrix: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
        """Each row's nearest centroid per group, ``(tokens, groups)``."""
        m = np.asarray(matrix, dtype=np.float32)
        if m.ndim != 2 or m.shape[1] != self.dimension:
            raise EmbeddingError(
                f"token states must be a (tokens, {self.dimension}) matrix for this codebook, "
                f"got shape {m.shape}"
            )
        g, _, sub = self.centroids.shape
        codes = np.empty((len(m), g), dtype=np.uint8)
        # argmin of |x - c|^2 = |c|^2 - 2 x.c per group (|x|^2 is the same for every centroid). One
        # plain matmul per group: 4x faster than a stacked matmul or einsum here; with the norms
        # folded into it (the 1 column) no elementwise pass over the (tokens, 256) distances
        # remains: another ~30 % (690 SciFact chunks: 1.5-1.7 s -> 1.0-1.25 s).
        x = np.empty((len(m), sub + 1), dtype=np.float32)
        x[:, sub] = 1.0
        for i in range(g):
            x[:, :sub] = m[:, i * sub : (i + 1) * sub]
            codes[:, i] = (x @ self._table[i]).argmin(axis=1)
        return codes

    @cached_property
    def _flat(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.intp]]:
        """The centroids as one ``(groups * 256, sub)`` table and each group's first row in it."""
        g, k, sub = self.centroids.shape
        return self.centroids.reshape(g * k, sub), np.arange(g, dtype=np.intp) * k

    @cached_property
    def _squared_lengths(self) -> npt.NDArray[np.float32]:
        """Each centroid's squared length, in the rows of :attr:`_flat`'s table."""
        table, _ = self._flat
        out: npt.NDArray[np.float32] = (table * table).sum(axis=1)
        return out

    def decode_unit(self, codes: npt.NDArray[np.uint8]) -> TokenMatrix:
        """:meth:`decode`, each row scaled to unit length (zero rows stay zero). The groups are
        disjoint slices of a row, so its squared length is the sum of its centroids' squared
        lengths: one small gather instead of a pass over the decoded matrix (5,000 tokens: 5.5 ->
        2.0 ms; late interaction decodes its whole head per query)."""
        table, first = self._flat
        at = codes.astype(np.intp) + first
        out: TokenMatrix = np.take(table, at, axis=0).reshape(len(codes), self.dimension)
        lengths = np.sqrt(np.take(self._squared_lengths, at).sum(axis=1))
        lengths[lengths == 0] = 1.0
        out /= lengths[:, None]
        return out

    def decode(self, codes: npt.NDArray[np.uint8]) -> TokenMatrix:
        # One row gather from the flat table copies the same centroid values as indexing the
        # (groups, 256, sub) array by group and code, ~1.5x faster (late interaction decodes the
        # states of its whole head per query).
        table, first = self._flat
        rows = np.take(table, codes.astype(np.intp) + first, axis=0)  # (tokens, groups, sub)
        out: TokenMatrix = rows.reshape(len(codes), self.dimension)
        return out


_books_lock = threading.Lock()
_books_by_model: dict[str, Codebook | None] = {}
_books_by_id: dict[bytes, Codebook] = {}


def _load(path: Path) -> Codebook:
    return Codebook(np.load(path, allow_pickle=False).astype(np.float32))


def codebook_for(model_id: str) -> Codebook | None:
    """The shipped codebook for ``model_id`` (``CODEBOOK_DIR/<name>@<weights>.npy``, matched by
    :func:`ragline.embedding.shipped.shipped_for`), None when there is none."""
    with _books_lock:
        if model_id not in _books_by_model:
            path = shipped_for(CODEBOOK_DIR, model_id, "npy")
            book = _load(path) if path is not None else None
            _books_by_model[model_id] = book
            if book is not None:
                _books_by_id[book.id] = book
        return _books_by_model[model_id]


def _codebook_by_id(book_id: bytes) -> Codebook:
    with _books_lock:
        if book_id not in _books_by_id and CODEBOOK_DIR.is_dir():
            for path in sorted(CODEBOOK_DIR.glob("*.npy")):
                shipped = _load(path)
                _books_by_id[shipped.id] = shipped
        book = _books_by_id.get(book_id)
    if book is None:
        raise EmbeddingError(
            f"token states were written with codebook {book_id.hex()}, which this ragline does not ship; "
            "re-ingest the collection"
        )
    return book


@dataclass(frozen=True, slots=True)
class PackedTokens:
    """One text's token states in their stored form (:func:`pack_tokens`): a quarter of the float32
    size, so ingest can hold a large source's states until its commit."""

    blob: bytes
    dimension: int

    @classmethod
    def of(cls, matrix: npt.NDArray[np.floating[Any]], codebook: Codebook | None = None) -> PackedTokens:
        m = np.asarray(matrix)
        if m.ndim != 2:
            raise EmbeddingError(f"token states must be a (tokens, dim) matrix, got shape {m.shape}")
        return cls(pack_tokens(m, codebook), m.shape[1])


def pack_tokens(matrix: npt.NDArray[np.floating[Any]], codebook: Codebook | None = None) -> bytes:
    """``matrix`` (tokens, dim) as bytes: int8 without ``codebook``, else product-quantised.

    int8: every token's float32 scale, then the int8 values. Each row is divided by its largest
    absolute value over 127 and rounded (absmax quantization), so the largest component of every
    token is exact and the rest err by at most half a step. With ``codebook``: a header (format and
    codebook id), then each token's centroid index per group (:meth:`Codebook.encode`).
    """
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise EmbeddingError(f"token states must be a (tokens, dim) matrix, got shape {m.shape}")
    if m.shape[0] == 0:
        return b""
    if codebook is not None:
        return _MAGIC + bytes([_PQ]) + codebook.id + bytes(codebook.encode(m).tobytes())
    q, scale = absmax_int8(m)
    return bytes(scale.astype(_SCALE).tobytes()) + bytes(q.tobytes())


def absmax_int8(
    matrix: npt.NDArray[np.floating[Any]],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Symmetric int8 rows of ``matrix`` and each row's float32 scale (its largest magnitude over
    127; 1 for an all-zero row): ``q * scale[:, None]`` gives the rows back within half a step.
    Token states (:func:`pack_tokens`) and the reader's word-embedding table use it."""
    m = np.asarray(matrix, dtype=np.float32)
    scale = np.abs(m).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(m / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def token_state_format(blob: bytes) -> TokenStateFormat:
    """The form ``blob`` was packed in (:func:`pack_tokens`)."""
    if blob[:3] == _MAGIC and len(blob) >= 4:
        if blob[3] == _PQ:
            return "pq"
        raise EmbeddingError(
            f"token states in format {blob[3]} are newer than this ragline reads; "
            "upgrade ragline or re-ingest"
        )
    return "int8"


def unpack_many(blobs: Sequence[bytes | None], dimension: int) -> list[TokenMatrix | None]:
    """:func:`unpack_tokens` of each blob (None stays None), the product-quantised ones of one
    codebook decoded together: one gather and one normalisation for all of them instead of one
    per blob. Row by row the arithmetic is the same, so the matrices are identical.

    Example::

        head = unpack_many(store_blobs, 384)   # late interaction's 40-chunk head in ~1 ms less
    """
    out: list[TokenMatrix | None] = [None] * len(blobs)
    by_book: dict[bytes, list[int]] = {}
    for i, blob in enumerate(blobs):
        if blob is None:
            continue
        if len(blob) > 4 + _ID_BYTES and token_state_format(blob) == "pq":
            by_book.setdefault(bytes(blob[4 : 4 + _ID_BYTES]), []).append(i)
        else:
            out[i] = unpack_tokens(blob, dimension)
    for book_id, idx in by_book.items():
        book = _codebook_by_id(book_id)
        bodies = [memoryview(blobs[i])[4 + _ID_BYTES :] for i in idx]  # type: ignore[arg-type]
        if book.dimension != dimension or any(len(b) % book.groups for b in bodies):
            for i in idx:  # the single-blob path names the problem
                out[i] = unpack_tokens(blobs[i], dimension)  # type: ignore[arg-type]
            continue
        codes = np.frombuffer(b"".join(bodies), dtype=np.uint8).reshape(-1, book.groups)
        decoded = book.decode_unit(codes)
        ends = np.cumsum([len(b) // book.groups for b in bodies])
        for i, part in zip(idx, np.split(decoded, ends[:-1]), strict=True):
            out[i] = part
    return out


def unpack_tokens(blob: bytes, dimension: int) -> TokenMatrix:
    """The float32 (tokens, dimension) matrix :func:`pack_tokens` stored in ``blob`` (either form)."""
    if token_state_format(blob) == "pq":
        book = _codebook_by_id(bytes(blob[4 : 4 + _ID_BYTES]))
        body = blob[4 + _ID_BYTES :]
        if book.dimension != dimension or len(body) % book.groups:
            raise EmbeddingError(
                f"{len(blob)} bytes of token states do not hold whole tokens of a {dimension}-d model for "
                f"codebook {book.id.hex()} ({book.dimension}-d); the collection was written for another "
                "model, re-ingest it"
            )
        codes = np.frombuffer(body, dtype=np.uint8).reshape(-1, book.groups)
        # Back to unit length, as the states were: MaxSim then compares directions, as over the
        # float states (NFCorpus dev 0.3517 -> 0.3551 against int8's 0.3541). Re-encoding such a
        # row gives the same codes (checked on 20,000 tokens), so a re-packed chunk keeps them.
        return book.decode_unit(codes)
    per_token = _SCALE.itemsize + dimension
    if dimension < 1 or len(blob) % per_token:
        raise EmbeddingError(
            f"{len(blob)} bytes of token states do not hold whole {dimension}-d tokens "
            f"({per_token} bytes each); the collection was written for another model, re-ingest it"
        )
    n = len(blob) // per_token
    scale = np.frombuffer(blob, dtype=_SCALE, count=n).astype(np.float32)
    q = np.frombuffer(blob, dtype=np.int8, offset=n * _SCALE.itemsize).reshape(n, dimension)
    out: TokenMatrix = q.astype(np.float32) * scale[:, None]
    return out
