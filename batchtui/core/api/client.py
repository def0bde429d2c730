"""The one place batchtui talks to the Batch and Files API, over the official AsyncOpenAI client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx2
import openai

from batchtui.core.api.backoff import Backoff
from batchtui.core.api.models import ApiObject, Batch, FileObject, sane
from batchtui.core.api.sdk_errors import translate_api_error
from batchtui.core.atomic import temp_beside
from batchtui.core.config import Profile
from batchtui.core.domain import ProgressCallback, batch_endpoints, canonical_endpoint
from batchtui.core.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    ConnectionLostError,
    NotFoundError,
)
from batchtui.core.paths import make_private_dirs

PAGE_SIZE = 100
_CHUNK = 1 << 20
_HEADER_SAFE = re.compile(r"[!-~]").fullmatch  # printable ASCII, no space: what an HTTP header value can carry
_HEAD_CHUNK = 1 << 16
UPLOAD_CLOCK_SKEW_SECONDS = 5.0
FIND_BATCH_SKEW_SECONDS = 300.0
"""How far before a creation began `find_batch` looks: its metadata names the batch exactly, so a wide margin for
a clock that is off costs only a page or two of listing."""
"""How far the API's clock may lag ours when an upload that broke off is looked for by its creation time."""
UPLOAD_BACKOFF = (0.25, 8.0)
"""Base and cap of the pause between upload attempts (the first waits 0.5 s), as the SDK paces its own retries."""

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
            azure_endpoint=profile.azure_endpoint or "",  # config requires one for kind azure
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
        try:
            async for page in self._pages(Batch, self._client.batches.list, limit=page_size):
                yield page
        except NotFoundError as exc:
            cause = exc.__cause__
            if not isinstance(cause, openai.NotFoundError):
                raise
            # Listing names no object, so a 404 here means base_url leads somewhere else than the API.
            raise NotFoundError(f"There is no Batch API at {self.profile.endpoint} (GET "
                                f"{cause.request.url.path} answered 404); check base_url.") from cause

    async def _pages(self, model: type[ApiObject], list_page: Callable[..., Awaitable[Any]], **params: Any,
                     ) -> AsyncIterator[list[ApiObject]]:
        """The pages of a list call, each item made sane (see `sane`), following the `after` cursor while the
        API has more. A cursor that comes round again ends the listing: a server that pages in a circle must not
        hold a sync for ever."""
        cursors: set[str] = set()
        after: str | None = None
        while True:
            with self._translated():
                page = await list_page(**params, **({"after": after} if after else {}))
            data = page.data if isinstance(page.data, list) else []
            items = [item for item in map(functools.partial(sane, model), data) if item is not None]
            yield items
            after = items[-1].id if items else None
            if page.has_more is False or after is None or after in cursors:
                return
            cursors.add(after)

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
            return self._one(Batch, await self._client.batches.retrieve(batch_id))

    async def create(
        self,
        input_file_id: str,
        endpoint: str,
        *,
        metadata: dict[str, str] | None = None,
        output_expires_after_seconds: int | None = None,
        once: bool = False,
    ) -> Batch:
        """Start a batch over an uploaded file; the window is always 24h, the API's only one. An endpoint the
        profile's kind takes no batch for is refused before any call (Azure's own /chat/completions is taken).
        `once`: no retry by the SDK, for a caller that first looks for the batch a broken-off call may have made
        (`find_batch`), since sending again blindly could make two."""
        kind = self.profile.kind
        if canonical_endpoint(endpoint, kind) is None:
            raise BadRequestError(f"endpoint '{endpoint}' is not one of {', '.join(batch_endpoints(kind))}")
        extra: dict[str, Any] = {}
        if metadata:
            extra["metadata"] = metadata
        if output_expires_after_seconds is not None:
            extra["output_expires_after"] = {"anchor": "created_at", "seconds": output_expires_after_seconds}
        client = self._client.with_options(max_retries=0) if once else self._client
        with self._translated():
            return self._one(Batch, await client.batches.create(
                input_file_id=input_file_id, endpoint=endpoint, completion_window="24h", **extra  # type: ignore[arg-type]
            ))

    async def cancel(self, batch_id: str) -> Batch:
        """Ask the API to cancel the batch. One that has already finished is not an error (OpenAI answers 409):
        the answer is then the batch as it is, in its final status."""
        try:
            with self._translated():
                return self._one(Batch, await self._client.batches.cancel(batch_id))
        except ConflictError:
            return await self.retrieve(batch_id)

    def _one(self, model: type[ApiObject], answer: object) -> ApiObject:
        """The API's answer made sane; one with no usable id is refused, as nothing could be done with it."""
        found = sane(model, answer)
        if found is None:
            kind = model.__name__.removesuffix("Object").lower()
            raise ApiError(f"The API at {self.profile.endpoint} answered a {kind} with no usable id.")
        return found

    async def upload(
        self, path: Path, *, purpose: str = "batch", expires_after_seconds: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> FileObject:
        """Upload a file, to expire `expires_after_seconds` after its creation if given (else at the API's default:
        30 days for purpose batch); `progress` hears how many bytes have gone (from 0 again on each attempt).

        The SDK cannot replay a file it streamed, so the tries (the profile's max_retries more) are made here. A
        failure that proves the file was not taken (429, 5xx, no connection) is retried after a pause; one that
        leaves it unknown (the connection broke off or timed out once the body went) is retried only if the file
        list shows no file of this name and size created since that attempt began, else that file is the answer:
        a retry never leaves two copies."""
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ApiError(f"{path}: cannot read: {exc.strerror}") from exc
        tries = 1 + (self.profile.max_retries if self._max_retries is None else self._max_retries)
        expiry: dict[str, Any] = {} if expires_after_seconds is None else {
            "expires_after": {"anchor": "created_at", "seconds": expires_after_seconds}}
        backoff = Backoff(*UPLOAD_BACKOFF)
        once = self._client.with_options(max_retries=0)
        unsure_since: float | None = None
        attempt = 0
        with handle:
            total = os.fstat(handle.fileno()).st_size
            while True:
                attempt += 1
                try:
                    if unsure_since is not None:
                        stored = await self.find_upload(path.name, total, purpose, since=unsure_since)
                        if stored is not None:
                            return stored
                    started = time.time()
                    handle.seek(0)
                    reader = _ProgressReader(handle, total, progress) if progress else handle
                    with self._translated():
                        answer = await once.files.create(file=(path.name, reader), purpose=purpose, **expiry)  # type: ignore[arg-type]
                    return self._one(FileObject, answer)
                except ApiError as exc:
                    if not exc.retryable or attempt == tries:
                        raise
                    if isinstance(exc, ConnectionLostError) and unsure_since is None:
                        unsure_since = started
                    await asyncio.sleep(backoff.failed(exc))

    async def find_batch(self, metadata: dict[str, str], *, since: float) -> Batch | None:
        """The batch created at or after `since` (less FIND_BATCH_SKEW_SECONDS) whose metadata holds all of
        `metadata`: one a creation that broke off may have made after all. Newest first, stopping at older ones."""
        floor = since - FIND_BATCH_SKEW_SECONDS
        async for page in self.batch_pages():
            for batch in page:
                found = batch.metadata or {}
                if batch.created_at >= floor and all(found.get(k) == v for k, v in metadata.items()):
                    return batch
            if not page or page[-1].created_at < floor:
                break
        return None

    async def find_upload(self, name: str, size: int, purpose: str = "batch", *, since: float) -> FileObject | None:
        """The file an upload that broke off may have stored after all: this name and size, created at or after
        `since` (less UPLOAD_CLOCK_SKEW_SECONDS). The listing is newest first, so it stops at older files."""
        floor = since - UPLOAD_CLOCK_SKEW_SECONDS
        async for page in self._pages(FileObject, self._client.files.list, purpose=purpose, order="desc",
                                      limit=PAGE_SIZE):
            for file in page:
                if file.filename == name and file.bytes == size and file.created_at >= floor:
                    return file
            if not page or page[-1].created_at < floor:
                break
        return None

    async def retrieve_file(self, file_id: str) -> FileObject:
        with self._translated():
            return self._one(FileObject, await self._client.files.retrieve(file_id))

    async def list_files(self, *, purpose: str | None = None) -> list[FileObject]:
        extra = {"purpose": purpose} if purpose else {}
        return [file async for page in self._pages(FileObject, self._client.files.list, **extra) for file in page]

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

    async def download(self, file_id: str, dest: Path, *, size: int, progress: ProgressCallback | None = None) -> None:
        """Stream a file's content to `dest`: a temp file beside it, checked against `size`, then renamed.

        An interrupted or short download leaves no file at `dest`. Folders made on the way are 0700; the file
        is 0600 (mkstemp's mode, which the rename keeps), as results may hold personal data.
        """
        make_private_dirs(dest.parent)
        done = 0
        with temp_beside(dest) as (out, tmp):
            with self._translated():
                async with self._client.files.with_streaming_response.content(file_id) as response:
                    async for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
            if done != size:
                raise ConnectionLostError(f"The download of {file_id} stopped at {done:,} of {size:,} bytes.")
            out.flush()
            os.replace(tmp, dest)


class _ProgressReader(io.RawIOBase):
    """A read-only file wrapper that reports each read to a progress callback."""

    def __init__(self, handle: BinaryIO, total: int, progress: ProgressCallback) -> None:
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
