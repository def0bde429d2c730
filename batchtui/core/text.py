"""Text for a terminal or a screen: untrusted text (prompts, responses, metadata) made safe to show, and sizes in
bytes as people read them, one way on the command line and in the app."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://[^\s'\"<>]+")
_USERINFO = re.compile(r"(?<=//)[^/?#]*@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_KILO = 1000
_UNITS = ("KB", "MB", "GB")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Show control characters (escape sequences, bidi overrides) as visible escapes, never raw.

    Tabs always stay; newlines stay only when `keep_newlines`, else they become a visible escape too.
    """
    text = _CONTROL.sub(_escape, text)
    return text if keep_newlines else text.replace("\n", "\\n").replace("\t", " ")


def printable_json(text: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with every character a terminal could act on
    written as a \\u escape: the same JSON, and safe on a terminal (json.dumps leaves DEL, C1 and bidi raw)."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def redact_url(url: str) -> str:
    """The URL as messages may show it: a user:password before the host and any query or fragment (where
    tokens ride) replaced by ***."""
    url = _USERINFO.sub("***@", url, count=1)
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    return url if cut < 0 else url[:cut] + url[cut] + "***"


def redact_urls(text: str) -> str:
    """`text` with every http(s) URL in it shown as redact_url shows it."""
    return _URL.sub(lambda match: redact_url(match.group()), text)


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """A count with its noun, one way everywhere: '1 batch', '27 batches', '1,234 requests', '0 hits'. The plural
    is `noun` + 's', or + 'es' after s, x, z, ch and sh, unless `plural_noun` names it."""
    if count == 1:
        return f"1 {noun}"
    if plural_noun is None:
        plural_noun = noun + ("es" if noun.endswith(("s", "x", "z", "ch", "sh")) else "s")
    return f"{count:,} {plural_noun}"


def byte_size(num_bytes: int) -> str:
    """A size in the unit that fits it, in steps of 1,000: '0 B', '512 B', '12.3 KB', '15.6 MB', '2.0 GB'; so a
    small file's progress reads '12.3 KB of 12.3 KB', never '0.0 of 0.0 MB'."""
    if num_bytes < _KILO:
        return f"{num_bytes:,} B"
    value = num_bytes / _KILO
    for unit in _UNITS[:-1]:
        if round(value, 1) < _KILO:
            return f"{value:.1f} {unit}"
        value /= _KILO
    return f"{value:,.1f} {_UNITS[-1]}"
