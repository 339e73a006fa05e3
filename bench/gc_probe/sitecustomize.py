"""The collector's work in a daemon run by a bench (scheduler_lateness.py ``--gc``).

On the ``PYTHONPATH`` of the daemon's process only, with ``BENCH_GC_OUT`` naming a file:
every collection's end time, generation and CPU (the thread's CPU time, so a starved
process on a busy machine is not charged for the time it waited) is kept and written to
that file as JSON when the process exits. The daemon's own code is not touched.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import time
from typing import Any

_OUT = os.environ.get("BENCH_GC_OUT")

if _OUT:
    _runs: list[tuple[float, int, float]] = []  # (time.time() at the end, generation, CPU s)
    _began = [0.0]

    def _collected(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _began[0] = time.thread_time()
        else:
            _runs.append((time.time(), info["generation"], time.thread_time() - _began[0]))

    def _write() -> None:
        with open(str(_OUT), "w", encoding="utf-8") as f:
            json.dump(_runs, f)

    gc.callbacks.append(_collected)
    atexit.register(_write)
