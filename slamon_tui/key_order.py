"""Keys that arrive in one burst act exactly as typed (issue 12).

Over SSH a burst of keys (``j j j Enter``, a whole form typed ahead) reaches the app in one
read. Textual hands each key to the widget that has focus *when the app reads it*, and a
key's binding runs only once the key has bubbled back up to the app: so after a Tab (or a
``/`` that opens the filter box) the keys behind it were already on their way to the old
field. ``OrderedKeys`` makes the app take the next key only once the previous one is done:

1. the key is stopped by a widget that used it, or is back at the app with its binding run;
2. then a *barrier* (a bubbling message) walks the path the key took (its widget, each
   parent, the screen, the app), queued behind whatever the key set off on that path (an
   Input's Submitted, a focus change, a new screen): when it reaches the app, all of that
   has been handled. (A message, not ``call_later``: a callback waits for a screen refresh
   at every step, ~16 ms each.)

Only then is the next key given to the widget that has the focus now. A key whose widget
went away is given up on after KEY_WAIT_S, so a burst can never stall for long.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

from textual import events, on
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer

KEY_WAIT_S = 0.5
"""Longest wait for one key to settle before the next is sent anyway."""
POLL_S = 0.005


class OrderedKeys(App[None]):
    """An App whose keys are handled one after the other, in the order they came."""

    def __init__(self) -> None:
        super().__init__()
        self._keys_waiting: deque[events.Key] = deque()
        self._key_in_flight: events.Key | None = None
        self._key_target: MessagePump | None = None
        self._key_sent_at = 0.0
        self._settling: int | None = None
        """The token of the barrier on its way, while the last key settles."""
        self._tokens = itertools.count(1)
        self._key_timer: Timer | None = None

    async def on_event(self, event: events.Event) -> None:
        """Raw keys wait their turn; a key back at the app starts its barrier."""
        if not isinstance(event, events.Key):
            await super().on_event(event)
            return
        if event.is_forwarded:  # bubbled back up: its binding runs now
            await super().on_event(event)
            if event is self._key_in_flight:
                self._settle()
            return
        self._keys_waiting.append(event)
        await self._pump()

    @property
    def _busy(self) -> bool:
        return self._key_in_flight is not None or self._settling is not None

    async def _pump(self) -> None:
        """Send the next waiting key when the last one has settled."""
        while self._keys_waiting and not self._busy:
            key = self._keys_waiting.popleft()
            target = self.focused or self.screen
            await super().on_event(key)
            self._key_sent_at = time.monotonic()
            self._key_target = target
            if key.is_forwarded and not key._stop_propagation:
                self._key_in_flight = key  # on its way through the widgets
            else:
                self._settle()  # a priority binding took it here at the app
        self._watch(bool(self._keys_waiting))

    class KeySettled(Message, bubble=True):
        """The barrier: posted to the widget a key went to, it bubbles up to the app behind
        whatever the key set off on its way (each node handles its queue in order)."""

        def __init__(self, token: int) -> None:
            super().__init__()
            self.token = token

    def _settle(self) -> None:
        """The key is done: send the barrier along its path (see the module docstring)."""
        self._key_in_flight = None
        self._settling = token = next(self._tokens)
        target = self._key_target
        if target is None or target is self or not _alive(target):
            self.post_message(self.KeySettled(token))
        else:
            target.post_message(self.KeySettled(token))

    @on(KeySettled)
    async def _settled(self, message: KeySettled) -> None:
        if message.token == self._settling:
            self._settling = None
            await self._pump()

    def _watch(self, waiting: bool) -> None:
        if waiting and self._key_timer is None:
            self._key_timer = self.set_interval(POLL_S, self._poll)
        elif not waiting and self._key_timer is not None:
            self._key_timer.stop()
            self._key_timer = None

    async def _poll(self) -> None:
        """A key stopped by a widget never comes back: look for that while keys wait, and
        give up on a key that cannot settle (its widget went away)."""
        key = self._key_in_flight
        if key is not None and key._stop_propagation:
            self._settle()
        elif self._busy and time.monotonic() - self._key_sent_at > KEY_WAIT_S:
            self._key_in_flight = None
            self._settling = None
            await self._pump()
        elif not self._busy:
            await self._pump()


def _alive(node: MessagePump) -> bool:
    """Whether ``node`` still handles messages (a removed widget does not)."""
    if isinstance(node, DOMNode) and not node.is_attached:
        return False
    return not node._closing and not node._closed
