"""Text widths in Verdana 11 px, the font of shields.io badges, so a badge fits its words.

Advance widths in pixels of the printable ASCII characters (32 … 126), as measured from
Verdana at 11 px (the same table shields.io derives with its measure-text tool). Other
characters count as a wide letter: a badge may come out a little wide, never clipped.
"""

from __future__ import annotations

_WIDTHS = (
    # space ! " # $ % & ' ( ) * + , - . /
    3.87, 4.33, 5.05, 9.00, 6.99, 11.84, 7.99, 2.95, 5.00, 5.00, 6.99, 9.00, 4.00, 5.00, 4.00, 5.00,
    # 0-9
    6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99,
    # : ; < = > ? @
    5.00, 5.00, 9.00, 9.00, 9.00, 6.00, 11.00,
    # A-Z
    7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.00, 7.62, 6.12, 9.27,
    8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54,
    # [ \ ] ^ _ `
    5.00, 5.00, 5.00, 9.00, 6.99, 6.99,
    # a-z
    6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.70,
    6.96, 6.68, 6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9.00, 6.51, 6.51, 5.78,
    # { | } ~
    6.98, 5.00, 6.98, 9.00,
)  # fmt: skip
WIDE = 11.0
"""Width used for any character outside the table (CJK, symbols): as wide as '@'."""

assert len(_WIDTHS) == 95


def text_width(text: str) -> float:
    """Width in pixels of ``text`` set in Verdana 11 px."""
    total = 0.0
    for ch in text:
        code = ord(ch)
        total += _WIDTHS[code - 32] if 32 <= code <= 126 else WIDE
    return total
