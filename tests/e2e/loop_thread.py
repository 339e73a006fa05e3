"""An asyncio loop in a thread of its own, for the targets and receivers a module's tests
share (tests/e2e/test_alerts_suppression.py, test_alerts_channels.py).

A daemon shared by a module keeps checking its targets and delivering to its receivers
between the module's tests, while the tests' loop does not run (pytest, or pytest-xdist
waiting for the next test to run). Servers on that loop would not answer then: their
services would time out and go down, and alerts would pile up unanswered. On a loop of
their own they answer whatever the tests' loop does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A running event loop in a daemon thread; ``run`` awaits a coroutine on it."""

    def __init__(self, name: str = "test servers") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the thread's loop; wait for it from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
