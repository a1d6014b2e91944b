"""Users of the in-process ingest never import Ray."""

from __future__ import annotations

import subprocess
import sys


def test_ray_is_imported_only_when_a_ray_ingest_starts() -> None:
    code = (
        "import sys, ragline, ragline.engine, ragline.cli.main, ragline.ingest.ray\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
