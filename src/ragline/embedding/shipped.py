"""Files shipped beside the packaged model, matched to a model by its weights' fingerprint.

A model id is ``<name>@<weights fingerprint>``; a file shipped for it is ``<name>@<fingerprint>.<ext>``.
The fingerprint decides, so the same weights under another directory name (a re-embed from a
copied model folder) share the file::

    path = shipped_for(CODEBOOK_DIR, "all-MiniLM-L6-v2@dbc58fdc8d65", "npy")
"""

from __future__ import annotations

from pathlib import Path


def shipped_for(directory: Path, model_id: str, ext: str) -> Path | None:
    """The file in ``directory`` shipped for ``model_id``'s weights, None when there is none."""
    if "@" not in model_id:
        return None
    weights = model_id.rpartition("@")[2]
    paths = sorted(directory.glob(f"*@{weights}.{ext}"))
    return paths[0] if paths else None
