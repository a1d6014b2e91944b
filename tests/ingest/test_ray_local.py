"""The Ray ingest's parts that need no cluster: in-process users never import Ray; bad addresses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ragline.errors import DistributedError
from ragline.ingest.ray import check_reachable


def test_ray_is_imported_only_when_a_ray_ingest_starts() -> None:
    code = (
        "import sys, ragline, ragline.engine, ragline.cli.main, ragline.ingest.ray\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("address", "message"),
    [("127.0.0.1:1", "no Ray cluster answers at '127.0.0.1:1'"), ("headnode", "is not 'auto', host:port")],
)
def test_an_address_nothing_answers_on_is_refused_at_once(address: str, message: str) -> None:
    with pytest.raises(DistributedError, match=message):
        check_reachable(address)
