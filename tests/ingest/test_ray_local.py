"""The Ray ingest's parts that need no cluster: in-process users never import Ray; bad addresses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragline.errors import DistributedError
from ragline.ingest.ray import check_reachable
from tests.helpers import fast_engine


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


SESSIONS = """
import threading
import ray
from ragline.ingest.ray import ray_session

first_in, first_out, first_left, done = (threading.Event() for _ in range(4))
seen = []

def first():
    with ray_session("auto"):
        first_in.set()
        assert first_out.wait(120)
    first_left.set()
    # A service's job threads outlive their jobs (Ray breaks once its initialising thread exits).
    assert done.wait(120)

def second():
    assert first_in.wait(120)
    with ray_session("auto") as r:
        first_out.set()
        assert first_left.wait(120)  # the first ingest has left: Ray must still be up for this one
        seen.append(r.get(r.put(41)) + 1)
    done.set()

t = threading.Thread(target=first)
u = threading.Thread(target=second)
t.start(); u.start(); u.join(); t.join()
assert seen == [42], seen
assert not ray.is_initialized(), "the last ingest out shuts down the Ray it started"
print("ok")
"""


@pytest.mark.integration
def test_concurrent_ingests_share_one_ray_and_the_last_one_out_shuts_it_down() -> None:
    # Loopback only and no usage reports, in a process of its own (ray.init starts a local Ray).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    out = subprocess.run(
        [sys.executable, "-c", SESSIONS], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_ray_off_runs_in_process_whatever_the_setting_says(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Rotate API keys every ninety days.", encoding="utf-8")
    engine = fast_engine(tmp_path / "d", ingest={"ray_address": "127.0.0.1:1"})  # nothing listens there
    workers: list[int] = []
    report = engine.ingest([tmp_path / "a.txt"], ray="off", progress=lambda p: workers.append(p.workers))
    assert report.files_indexed == 1 and set(workers) == {0}
    with pytest.raises(DistributedError, match="no Ray cluster answers"):
        engine.ingest([tmp_path / "a.txt"])
