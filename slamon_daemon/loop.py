"""The event loop the daemon runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv under asyncio's API) roughly halves the loop's own CPU per connection, which
is most of a check's cost once the HTTP engine is lean (docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger("slamon.loop")


def install_fast_loop(enabled: bool = True) -> str:
    """Make ``asyncio.run`` create uvloop loops when uvloop imports; the loop's name.

    Call it once before ``asyncio.run``. Returns "uvloop", or "asyncio" when uvloop is not
    installed (it does not build on Windows) or ``enabled`` is false.
    """
    if not enabled:
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        logger.info("uvloop is not installed: running on asyncio's own event loop")
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
