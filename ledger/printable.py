r"""Text that cannot steer what shows it: each control, bidirectional or surrogate character as an escape.

Shared by the terminal (:mod:`ledger.cli.render`) and the web pages (:mod:`ledger.dashboard`),
which escape markup besides: ``"\x1b[31m"`` is shown as the nine characters ``\x1b[31m``
and U+202E as ``\u202e``, never acted on.
"""

from __future__ import annotations

import re

# Characters that steer a terminal or disguise text besides the C0 controls: DEL and the
# C1 controls (U+009B is a one-byte CSI), the bidirectional marks, embeddings, overrides
# and isolates ("Trojan Source"), the Unicode line and paragraph separators, and lone
# surrogates (undecodable bytes kept by surrogateescape, which no stream can encode).
STEERING = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{STEERING}]")
_UNSAFE_KEEPING_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{STEERING}]")


def printable(text: str, *, keep_lines: bool = False) -> str:
    r"""``text`` with each control, bidirectional or surrogate character written as an escape.

    ``"\x1b[31m"`` becomes the nine characters ``\x1b[31m``; U+202E becomes ``\u202e``.
    Newlines and tabs are escaped too, so the result is one line, unless ``keep_lines``
    (for a raw body shown as a block).
    """
    return (_UNSAFE_KEEPING_LINES if keep_lines else _UNSAFE).sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
