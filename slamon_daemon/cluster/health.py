"""A node's own health (issue 15, the seeds' server-resource metrics put to work).

Every ``health_interval`` (a minute by default) a node samples, from /proc and the
filesystem (no extra dependency; fields it cannot read are left out):

* ``cpu_percent``: the machine's CPU busy share since the last sample (/proc/stat), and
  ``process_cpu_percent``: this daemon's own CPU, in percent of one core (its event loop
  runs on one);
* ``mem_percent``: memory in use (MemTotal − MemAvailable, /proc/meminfo);
* ``disk_percent``: the journal folder's filesystem in use;
* ``net_bytes``: bytes received and sent by every interface since the last sample;
* ``lateness_p99_s``: the scheduler's start lateness;
* ``selfcheck``: a check of ``[daemon] reference_url`` (a target known to be up), if set.

A node is **sick** when its checks cannot be trusted: the self-check failed, the p99
lateness is over ``overload_lateness``, or its own CPU is saturated (the daemon's event loop
busy ``SICK_CPU_PERCENT`` of the time: its checks start late and measure slow). A busy
machine alone is not sickness (on a shared host other programs use the CPU): it shows in
the lateness when it matters. The
reason is logged, written in ``nodes.sick`` (slamon nodes, nodes.list, the TUI), and every
node leaves a sick node's failures out of the quorum. Samples are summed into hourly and
daily rows of ``node_health``, kept as long as raw checks.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..models import Check, Service

logger = logging.getLogger("slamon.cluster")

SICK_CPU_PERCENT = 95.0
MIN_CPU_WINDOW_S = 1.0
"""The shortest window the daemon's own CPU share is measured over."""
"""A daemon this busy (of one core) makes late and slow checks: its failures do not count."""


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of the machine, or None off Linux."""
    try:
        line = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0]
    except (OSError, IndexError):
        return None
    values = [int(x) for x in line.split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _mem_percent() -> float | None:
    try:
        info = {
            k: int(v.split()[0])
            for k, _, v in (
                line.partition(":")
                for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines()
            )
        }
        total, available = info["MemTotal"], info["MemAvailable"]
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return round(100.0 * (total - available) / total, 1) if total else None


def _net_bytes() -> int | None:
    try:
        lines = Path("/proc/net/dev").read_text(encoding="ascii").splitlines()[2:]
    except OSError:
        return None
    total = 0
    for line in lines:
        fields = line.partition(":")[2].split()
        if len(fields) >= 9:
            total += int(fields[0]) + int(fields[8])
    return total


class HealthWatch:
    """Samples this node's health; ``latest`` and ``sick`` are what the heartbeat sends."""

    def __init__(
        self,
        folder: Path,
        lateness_p99: Callable[[], float],
        *,
        lateness_limit_s: float,
        reference: Service | None = None,
        check: Callable[[Service], Awaitable[Check]] | None = None,
    ) -> None:
        self.folder = folder
        self._lateness_p99 = lateness_p99
        self.lateness_limit_s = lateness_limit_s
        self.reference = reference
        self._check = check
        self._cpu = _cpu_times()
        self._net = _net_bytes()
        self._own: tuple[float, float] | None = None  # (process CPU s, monotonic s)
        self.latest: dict[str, Any] = {}
        self.sick: str | None = None
        self.samples = 0

    async def sample(self) -> dict[str, Any]:
        """Take one sample; sets ``latest`` and ``sick`` (logging a change)."""
        out: dict[str, Any] = {"at": time.time()}
        cpu = _cpu_times()
        if cpu is not None and self._cpu is not None and cpu[1] > self._cpu[1]:
            busy, total = cpu[0] - self._cpu[0], cpu[1] - self._cpu[1]
            out["cpu_percent"] = round(100.0 * busy / total, 1)
        self._cpu = cpu
        # This process's CPU (every thread; nanoseconds, not os.times()'s 10 ms ticks) over a
        # window of at least MIN_CPU_WINDOW_S: a shorter one says nothing (one tick over a
        # millisecond read as "720 % of a core"). Not at the first sample: start-up.
        own = (time.process_time(), time.monotonic())
        if self._own is None:
            self._own = own
        elif own[1] - self._own[1] >= MIN_CPU_WINDOW_S:
            out["process_cpu_percent"] = round(
                100.0 * (own[0] - self._own[0]) / (own[1] - self._own[1]), 1
            )
            self._own = own
        mem = _mem_percent()
        if mem is not None:
            out["mem_percent"] = mem
        try:
            usage = shutil.disk_usage(self.folder)
            out["disk_percent"] = round(100.0 * usage.used / usage.total, 1)
        except OSError:
            pass
        net = _net_bytes()
        if net is not None and self._net is not None:
            out["net_bytes"] = max(0, net - self._net)
        self._net = net
        out["lateness_p99_s"] = round(self._lateness_p99(), 3)
        if self.reference is not None and self._check is not None:
            c = await self._check(self.reference)
            out["selfcheck"] = {
                "outcome": c.outcome.value,
                "latency_ms": round(c.latency_ms, 1),
                "error": c.error,
            }
        self.samples += 1
        self.latest = out
        self._judge(out)
        return out

    def _judge(self, s: dict[str, Any]) -> None:
        why = judge(s, self.lateness_limit_s, self.reference.url if self.reference else None)
        if (why is None) != (self.sick is None):
            if why is not None:
                logger.warning("this node is sick (%s): its failures do not count", why)
            else:
                logger.info("this node is healthy again (was: %s)", self.sick)
        self.sick = why


def judge(sample: dict[str, Any], lateness_limit_s: float, reference_url: str | None) -> str | None:
    """Why a node with this health sample is sick, or None when it is healthy."""
    reasons = []
    sc = sample.get("selfcheck")
    if sc is not None and sc.get("outcome") == "down":
        reasons.append(f"self-check of {reference_url} failed: {sc.get('error') or 'down'}")
    if sample.get("lateness_p99_s", 0.0) > lateness_limit_s:
        reasons.append(
            f"checks start {sample['lateness_p99_s']:.1f} s late (p99, limit {lateness_limit_s:g} s)"
        )
    if sample.get("process_cpu_percent", 0.0) >= SICK_CPU_PERCENT:
        reasons.append(f"its own CPU saturated ({sample['process_cpu_percent']:.0f} % of a core)")
    return "; ".join(reasons) or None
