"""The one place batchtui talks to the Batch and Files API, over the official AsyncOpenAI client."""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx2
import openai
from openai.types import Batch, FileObject

from batchtui.core.config import Profile
from batchtui.core.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConnectionLostError,
    NotFoundError,
    translate_api_error,
)
from batchtui.core.paths import make_private_dirs

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as an upload or download moves on."""

BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
PAGE_SIZE = 100
_CHUNK = 1 << 20
_HEADER_SAFE = re.compile(r"[!-~]").fullmatch  # printable ASCII, no space: what an HTTP header value can carry
STALE_PART_SECONDS = 600.0
_HEAD_CHUNK = 1 << 16


def make_openai_client(profile: Profile, *, max_retries: int | None = None) -> openai.AsyncOpenAI:
    """Build the SDK client a profile describes (OpenAI, Azure, or any compatible base_url)."""
    if not profile.api_key and profile.kind == "openai":
        raise AuthError(
            f"No API key for profile '{profile.name}': set OPENAI_API_KEY, or api_key_env in its config.toml section"
        )
    bad = next((i for i, char in enumerate(profile.api_key or "") if not _HEADER_SAFE(char)), None)
    if bad is not None:  # httpx would raise UnicodeEncodeError deep in a request instead
        raise AuthError(
            f"The API key of profile '{profile.name}' has a character that cannot be sent (position {bad + 1}): "
            "check for a pasted quote, space or line break"
        )
    if profile.kind == "azure":
        return openai.AsyncAzureOpenAI(
            azure_endpoint=profile.azure_endpoint,
            api_version=profile.api_version,
            api_key=profile.api_key,
            max_retries=profile.max_retries if max_retries is None else max_retries,
            timeout=profile.timeout,
        )
    return openai.AsyncOpenAI(
        api_key=profile.api_key,
        base_url=profile.base_url,
        organization=profile.organization,
        project=profile.project,
        max_retries=profile.max_retries if max_retries is None else max_retries,
        timeout=profile.timeout,
    )


class BatchService:
    """Batches and files, with every SDK failure turned into an ApiError with a plain sentence."""

    def __init__(self, profile: Profile, *, max_retries: int | None = None) -> None:
        """`max_retries` overrides the profile's (a script may want none)."""
        self.profile = profile
        self._max_retries = max_retries
        self._sdk: openai.AsyncOpenAI | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """Built on first use, so a missing key only matters once the network is needed."""
        if self._sdk is None:
            self._sdk = make_openai_client(self.profile, max_retries=self._max_retries)
        return self._sdk

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    async def __aenter__(self) -> BatchService:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except openai.OpenAIError as exc:
            raise translate_api_error(exc, self.profile.endpoint) from exc
        except httpx2.TransportError as exc:
            # A connection lost while a body streams surfaces from httpx2 itself, not the SDK.
            raise ConnectionLostError(f"The connection to {self.profile.endpoint} broke off: {exc}") from exc

    async def batch_pages(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[list[Batch]]:
        """Pages of batches, newest first; the caller stops iterating when it has seen enough."""
        with self._translated():
            try:
                page = await self._client.batches.list(limit=page_size)
            except openai.NotFoundError as exc:
                # Listing names no object, so a 404 here means base_url leads somewhere else than the API.
                raise NotFoundError(f"There is no Batch API at {self.profile.endpoint} (GET "
                                    f"{exc.request.url.path} answered 404); check base_url.") from exc
            yield page.data
            while page.has_next_page():
                page = await page.get_next_page()
                yield page.data

    async def list_batches(self, *, limit: int | None = None) -> list[Batch]:
        """Batches newest first, all of them or the newest `limit`."""
        found: list[Batch] = []
        page_size = min(PAGE_SIZE, limit) if limit else PAGE_SIZE
        async for page in self.batch_pages(page_size=page_size):
            found.extend(page)
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found

    async def retrieve(self, batch_id: str) -> Batch:
        with self._translated():
            return await self._client.batches.retrieve(batch_id)

    async def create(
        self,
        input_file_id: str,
        endpoint: str,
        *,
        metadata: dict[str, str] | None = None,
        output_expires_after_seconds: int | None = None,
    ) -> Batch:
        """Start a batch over an uploaded file; the window is always 24h, the API's only one."""
        if endpoint not in BATCH_ENDPOINTS:
            raise BadRequestError(f"endpoint '{endpoint}' is not one of {', '.join(BATCH_ENDPOINTS)}")
        extra: dict[str, Any] = {}
        if metadata:
            extra["metadata"] = metadata
        if output_expires_after_seconds is not None:
            extra["output_expires_after"] = {"anchor": "created_at", "seconds": output_expires_after_seconds}
        with self._translated():
            return await self._client.batches.create(
                input_file_id=input_file_id, endpoint=endpoint, completion_window="24h", **extra  # type: ignore[arg-type]
            )

    async def cancel(self, batch_id: str) -> Batch:
        with self._translated():
            return await self._client.batches.cancel(batch_id)

    async def upload(self, path: Path, *, purpose: str = "batch", progress: Progress | None = None) -> FileObject:
        """Upload a file; `progress` hears how many bytes have gone."""
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ApiError(f"{path}: cannot read: {exc.strerror}") from exc
        with handle, self._translated():
            total = os.fstat(handle.fileno()).st_size
            reader = _ProgressReader(handle, total, progress) if progress else handle
            return await self._client.files.create(file=(path.name, reader), purpose=purpose)  # type: ignore[arg-type]

    async def retrieve_file(self, file_id: str) -> FileObject:
        with self._translated():
            return await self._client.files.retrieve(file_id)

    async def list_files(self, *, purpose: str | None = None) -> list[FileObject]:
        with self._translated():
            extra = {"purpose": purpose} if purpose else {}
            return [f async for f in self._client.files.list(**extra)]

    async def delete_file(self, file_id: str) -> None:
        with self._translated():
            await self._client.files.delete(file_id)

    async def head(self, file_id: str, *, max_lines: int, max_bytes: int) -> bytes:
        """The start of a file's content, streamed: reading stops once `max_lines` newlines or `max_bytes`
        bytes have come, so a multi-GB file costs one small read. At most `max_bytes` bytes are returned."""
        data = bytearray()
        with self._translated():
            async with self._client.files.with_streaming_response.content(file_id) as response:
                async for chunk in response.iter_bytes(_HEAD_CHUNK):
                    data += chunk
                    if data.count(b"\n") >= max_lines or len(data) >= max_bytes:
                        break
        return bytes(data[:max_bytes])

    async def download(self, file_id: str, dest: Path, *, size: int, progress: Progress | None = None) -> None:
        """Stream a file's content to `dest`: a temp file beside it, checked against `size`, then renamed.

        An interrupted or short download leaves no file at `dest`. Folders made on the way are 0700; the file
        is 0600 (mkstemp's mode, which the rename keeps), as results may hold personal data.
        """
        make_private_dirs(dest.parent)
        _remove_stale_parts(dest)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            done = 0
            with os.fdopen(fd, "wb") as out, self._translated():
                async with self._client.files.with_streaming_response.content(file_id) as response:
                    async for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
            if done != size:
                raise ConnectionLostError(f"The download of {file_id} stopped at {done:,} of {size:,} bytes.")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _remove_stale_parts(dest: Path) -> None:
    """Delete temp files of earlier downloads to `dest` that a killed process left (up to 200 MB each). A part
    written to in the last STALE_PART_SECONDS may be another process's download still running: it stays."""
    for part in dest.parent.glob(f".{glob.escape(dest.name)}.*.part"):
        with contextlib.suppress(OSError):
            if time.time() - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()


class _ProgressReader(io.RawIOBase):
    """A read-only file wrapper that reports each read to a progress callback."""

    def __init__(self, handle: BinaryIO, total: int, progress: Progress) -> None:
        self._handle = handle
        self._total = total
        self._progress = progress
        self._done = 0
        self.name = getattr(handle, "name", "upload")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._done += len(data)
        self._progress(self._done, self._total)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
