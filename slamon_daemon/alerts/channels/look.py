"""How chat channels mark a message: an emoji and a colour per action and severity."""

from __future__ import annotations

from ..model import Action, Message, Severity

_TRIGGER_COLOURS = {
    Severity.CRITICAL: 0xD93F0B,  # red
    Severity.WARNING: 0xF2A900,  # amber
    Severity.INFO: 0x3B82F6,  # blue
}
RESOLVED_COLOUR = 0x2DA44E  # green
_TRIGGER_EMOJI = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


def emoji(message: Message) -> str:
    """🔴 / 🟠 / 🔵 for a trigger by severity, ✅ for a resolve, ℹ️ for an info message."""
    if message.action is Action.RESOLVE:
        return "✅"
    if message.action is Action.INFO:
        return "ℹ️"
    return _TRIGGER_EMOJI[message.severity]


def colour(message: Message) -> int:
    """An RGB colour as an integer (Discord embeds)."""
    if message.action is Action.RESOLVE:
        return RESOLVED_COLOUR
    return _TRIGGER_COLOURS[message.severity]


def colour_hex(message: Message) -> str:
    """The same colour as ``#rrggbb`` (Slack-style attachments)."""
    return f"#{colour(message):06x}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in … when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def footer(message: Message) -> str:
    """One line of context: severity, event, time and node."""
    node = message.fields.get("node") or "slamon"
    return f"{message.severity.value} · {message.event.value} · {message.at} · slamon {node}"
