"""slamon's own themes (issue 12): a high-contrast one for bright rooms, projectors and
tired eyes. Pick it in the command palette (Ctrl+P → "Change theme"); the choice is kept
between runs (ui_state.py). With NO_COLOR set, Textual draws in monochrome and every status
still reads by its word and symbol."""

from __future__ import annotations

from textual.theme import Theme

HIGH_CONTRAST = Theme(
    name="slamon-high-contrast",
    primary="#00BFFF",
    secondary="#FFFFFF",
    accent="#FFFF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    success="#00FF00",
    warning="#FFD700",
    error="#FF3030",
    dark=True,
    luminosity_spread=0.0,
    text_alpha=1.0,
    variables={
        "foreground-muted": "#E0E0E0",
        "text-muted": "#E0E0E0",
        "block-cursor-background": "#FFFF00",
        "block-cursor-foreground": "#000000",
        "footer-key-foreground": "#FFFF00",
        "border": "#FFFFFF",
    },
)
"""White on black, saturated status colours, muted text kept bright."""

THEMES: tuple[Theme, ...] = (HIGH_CONTRAST,)
