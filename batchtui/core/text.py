"""Making untrusted text (prompts, responses, metadata) safe to put on a terminal."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://[^\s'\"<>]+")
_USERINFO = re.compile(r"(?<=//)[^/?#]*@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


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
