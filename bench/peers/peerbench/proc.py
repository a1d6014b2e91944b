"""Run one worker process with a wall-clock limit and a memory guard; return its JSON result."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return None


def cpu_busy_seconds() -> float:
    """Busy CPU time of the whole machine so far (all cores, from /proc/stat), in seconds."""
    try:
        f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def foreign_cores(window_s: float = 1.0) -> float:
    """Cores kept busy by other processes during ``window_s`` (this process idles meanwhile)."""
    t0, b0 = time.perf_counter(), cpu_busy_seconds()
    time.sleep(window_s)
    return max(0.0, (cpu_busy_seconds() - b0) / (time.perf_counter() - t0))


def wait_for_quiet(max_wait_s: float, threshold_cores: float = 0.5) -> float:
    """Wait (at most ``max_wait_s``) until other processes use under ``threshold_cores``; returns
    the seconds waited. The machine is shared: this keeps other people's bursts out of the
    measurements where it can, without stretching the run past its budget."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait_s:
        if foreign_cores(1.0) < threshold_cores:
            break
    return round(time.perf_counter() - t0, 1)


def run_worker(args: list[str], out: Path, log: Path, timeout_s: float, rss_limit_bytes: float) -> dict:
    """``python worker.py ARGS --out OUT``; kills it past ``timeout_s`` or ``rss_limit_bytes``.

    The parent samples the child's RSS every 0.25 s (its own record of the peak, next to the
    child's VmHWM), and the load average before and after, since the machine is shared.
    """
    out.unlink(missing_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE / "worker.py"), *args, "--out", str(out)]
    load0 = loadavg()
    busy0 = cpu_busy_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    peak = 0
    killed = None
    with log.open("w") as fh:
        p = subprocess.Popen(cmd, cwd=str(HERE), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        while p.poll() is None:
            peak = max(peak, _rss(p.pid))
            elapsed = time.perf_counter() - t0
            if peak > rss_limit_bytes:
                gib, lim = peak / 2**30, rss_limit_bytes / 2**30
                killed = f"killed: RSS reached {gib:.1f} GiB, over the {lim:.1f} GiB guard"
            elif elapsed > timeout_s:
                killed = f"killed: still running after {elapsed:.0f} s (time budget)"
            if killed:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                break
            time.sleep(0.25)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    foreign = max(0.0, cpu_busy_seconds() - busy0 - mine) / max(wall, 1e-9)
    if out.is_file():
        res = json.loads(out.read_text())
    else:
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        res = {
            "ok": False,
            "error": killed or f"worker exited with {p.returncode} and no result",
            "log_tail": tail,
        }
    res["wall_s"] = round(wall, 2)
    res["parent_peak_rss_bytes"] = peak
    res["loadavg_before"] = load0
    res["loadavg_after"] = loadavg()
    res["worker_cpu_cores"] = round(mine / max(wall, 1e-9), 2)
    res["other_processes_cpu_cores"] = round(foreign, 2)
    res["cmd"] = " ".join(cmd[1:])
    return res
