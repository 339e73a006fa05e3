"""When a node is sick (issue 15, cluster/health.py): a failed self-check, lateness over the
limit, its own CPU saturated; a busy machine alone is not sickness. And a real sample of this
machine: the fields a Linux /proc gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from slamon_daemon.cluster.health import MIN_CPU_WINDOW_S, HealthWatch, judge


def test_healthy_sample() -> None:
    sample = {"cpu_percent": 100.0, "process_cpu_percent": 20.0, "lateness_p99_s": 0.1}
    assert judge(sample, 2.0, None) is None  # the machine busy with others: not sick


def test_each_reason_and_all_of_them() -> None:
    ref = "http://127.0.0.1:9/"
    down = {"outcome": "down", "error": "connection refused"}
    assert judge({"selfcheck": down}, 2.0, ref) == f"self-check of {ref} failed: connection refused"
    assert judge({"lateness_p99_s": 2.5}, 2.0, ref) == "checks start 2.5 s late (p99, limit 2 s)"
    assert (
        judge({"process_cpu_percent": 97.0}, 2.0, ref) == "its own CPU saturated (97 % of a core)"
    )
    both = judge({"selfcheck": down, "lateness_p99_s": 3.0}, 2.0, ref)
    assert both == (
        f"self-check of {ref} failed: connection refused; checks start 3.0 s late (p99, limit 2 s)"
    )
    assert judge({"selfcheck": {"outcome": "up"}, "lateness_p99_s": 2.0}, 2.0, ref) is None


async def test_a_sample_of_this_machine(tmp_path: Path) -> None:
    watch = HealthWatch(tmp_path, lambda: 0.25, lateness_limit_s=2.0)
    first = await watch.sample()
    assert "process_cpu_percent" not in first  # the first window is start-up: not judged
    too_soon = await watch.sample()
    assert "process_cpu_percent" not in too_soon  # a millisecond's window says nothing
    await asyncio.sleep(MIN_CPU_WINDOW_S + 0.1)  # a quiet second of this process
    second = await watch.sample()
    assert 0 <= second["disk_percent"] <= 100
    assert 0 <= second["mem_percent"] <= 100
    assert second["lateness_p99_s"] == 0.25
    assert second["process_cpu_percent"] >= 0
    assert watch.sick is None
    watch.lateness_limit_s = 0.1
    await watch.sample()
    assert watch.sick == "checks start 0.2 s late (p99, limit 0.1 s)"
