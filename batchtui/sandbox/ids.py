"""Object ids in the formats OpenAI uses: batch_<hex>, file-<base62>, batch_req_<hex>, req_<hex>."""

from __future__ import annotations

import hashlib
import random
import secrets

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def batch_id(rng: random.Random | None = None) -> str:
    return "batch_" + _hex(32, rng)


def file_id(rng: random.Random | None = None) -> str:
    pick = rng.choice if rng else secrets.choice
    return "file-" + "".join(pick(_BASE62) for _ in range(22))


def derived_hex(*parts: str, length: int = 32) -> str:
    """A stable hex string from the given parts, so regenerated outputs carry the same ids."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=length // 2)
    return digest.hexdigest()


def _hex(length: int, rng: random.Random | None) -> str:
    if rng is None:
        return secrets.token_hex(length // 2)
    return f"{rng.getrandbits(length * 4):0{length}x}"
