"""A profile's API service and its cache together: what the CLI and the TUI work with."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from batchtui.core.api.backoff import Backoff
from batchtui.core.api.downloads import SaveError, cached_name, download_once, download_results
from batchtui.core.api.models import Batch, FileObject
from batchtui.core.api.sync import LAST_SYNC, MAX_BACKOFF_SECONDS, SyncResult, sync_batches
from batchtui.core.authoring.batch_file import ManifestError, data_rows_by_custom_id, load_manifest, manifest_path
from batchtui.core.authoring.validate import validate_file
from batchtui.core.cache.llm_logs import (
    ImportResult,
    LogSource,
    OutputHistory,
    align_retries,
    import_batch,
    last_import,
    output_history,
    signature,
)
from batchtui.core.cache.store import Cache, DownloadedFile, ProgressObservation, open_or_set_aside
from batchtui.core.config import Profile
from batchtui.core.domain import ACTIVE_STATUSES, RETRY_KIND_NAMES, ProgressCallback, RetryKind
from batchtui.core.errors import BatchtuiError, file_errors
from batchtui.core.insights.pricing import Cost, batch_cost, requests_done
from batchtui.core.insights.progress import RATE_WINDOW_SECONDS, Progress, batch_progress
from batchtui.core.logstore import LogStore, PushResult, push_async
from batchtui.core.paths import inside, make_private_dirs, safe_name
from batchtui.core.results.export import DataJoin
from batchtui.core.results.file_lines import FileLines
from batchtui.core.results.index import ResultFiles, build_index
from batchtui.core.results.retry import RETRY_OF, rows_to_retry, write_retry_file

if TYPE_CHECKING:
    from batchtui.core.api.client import BatchService

_ESTIMATE = "estimate:"
"""The meta key prefix of a batch's cost estimate at start."""
_MAX_RETRY_DEPTH = 100
"""Links followed from a retry back to its first batch (metadata is free text: a loop must end)."""
MIN_POLL_SECONDS = 1.0
"""The shortest wait between two checks of a batch: shorter floods the API for nothing."""
LOG_REQUESTS_PER_PASS = 50_000
"""How many requests one `log_finished` call imports into llm_logs at most (one batch of the API's largest)."""


@dataclass(frozen=True)
class LogPass:
    """What one `log_finished` call imported, what failed (batch id, reason), and how many batches are left."""

    imported: list[ImportResult]
    failed: list[tuple[str, str]]
    left: int
    push_problem: str | None = None
    """Why the batches waiting for the team's log store were not pushed (tried again on the next pass)."""


@dataclass(frozen=True)
class RetryPreview:
    """See `Workspace.retry_preview`."""

    counts: dict[RetryKind, int]
    per_request: Cost | None

    def cost(self, kinds: Collection[RetryKind]) -> Cost | None:
        """About what retrying the requests of `kinds` costs, at the batch's average per request."""
        return self.per_request.times(sum(self.counts[kind] for kind in kinds)) if self.per_request else None


class RetryRefused(BatchtuiError):
    """A retry would send requests again that an earlier retry has not finished with."""


class Workspace:
    """Open with `await Workspace.open(profile)`; close with `await ws.close()` or `async with`.

    `notice` is a sentence for the user when the open had to set a damaged cache file aside, else None."""

    def __init__(self, profile: Profile, cache: Cache, cache_dir: Path, notice: str | None = None, *,
                 max_retries: int | None = None) -> None:
        self.profile = profile
        self.cache = cache
        self.cache_dir = cache_dir
        self.notice = notice
        self._max_retries = max_retries
        self._service: BatchService | None = None
        self._log_failures: set[str] = set()
        self.push_problem: str | None = None
        """Why an import's rows were not pushed to the team's log store, when one failed (they wait)."""

    @property
    def service(self) -> BatchService:
        """The API client, built on first use: its module imports the SDK (about 0.35 s), which the app's first
        paint from the cache and the commands that never call the API should not wait for."""
        if self._service is None:
            from batchtui.core.api.client import BatchService

            self._service = BatchService(self.profile, max_retries=self._max_retries)
        return self._service

    @classmethod
    async def open(cls, profile: Profile, *, cache_dir: Path | None = None, max_retries: int | None = None,
                   ) -> Workspace:
        """Open the profile's cache (creating it, or setting a damaged one aside: see `notice`) and an API client;
        nothing goes over the network yet. If it fails or is cancelled, nothing is left open (the cache's connection
        thread included)."""
        folder = cache_dir or profile.cache_dir()
        cache, notice = await open_or_set_aside(folder / "cache.db")
        try:
            return cls(profile, cache, folder, notice, max_retries=max_retries)
        except BaseException:
            await cache.close()
            raise

    async def close(self) -> None:
        if self._service is not None:
            await self._service.aclose()
        await self.cache.close()

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def refresh(self) -> SyncResult:
        """Bring the cache up to date with the API, incrementally. The app's first network call: the client is
        built in a thread, so importing the SDK does not hold the event loop for a third of a second."""
        service = self._service if self._service is not None else await asyncio.to_thread(lambda: self.service)
        return await sync_batches(service, self.cache)

    async def batches(self, *, status: str | None = None, limit: int | None = None) -> list[Batch]:
        """Cached batches, newest first."""
        return await self.cache.list_batches(status=status, limit=limit)

    async def batches_by_id(self, batch_ids: Iterable[str]) -> list[Batch]:
        """The cached batches of these ids (unknown ids are left out), newest first."""
        return await self.cache.get_batches(batch_ids)

    async def batch(self, batch_id: str) -> Batch | None:
        """The cached batch of this id, or None if the cache has never seen it (no network)."""
        return await self.cache.get_batch(batch_id)

    async def request_models(self, batches: Iterable[Batch]) -> dict[str, str]:
        """For batches whose model the API does not say yet (validating, failed validation), the model their
        requests name, when their requests are in llm_logs (every batch started from here)."""
        return await self.cache.request_models(b.id for b in batches if not b.model)

    def output_history(self, model: str) -> OutputHistory | None:
        """How much output the account's past requests of `model` gave per input token, from llm_logs: what the
        output of requests without max_tokens is estimated from. Blocking (one bounded read): call it in a thread."""
        return output_history(self.cache.path, model)

    async def last_synced(self) -> float | None:
        """When the last complete sync pass ended (epoch seconds), or None if none has yet."""
        last = await self.cache.get_meta(LAST_SYNC)
        return float(last) if last else None

    async def fetch_batch(self, batch_id: str) -> Batch:
        """The batch as the API has it now, stored in the cache on the way."""
        return await self._remember(await self.service.retrieve(batch_id))

    async def wait_for(
        self, batch_id: str, poll_seconds: float, *, max_backoff: float = MAX_BACKOFF_SECONDS,
        on_retry: Callable[[BatchtuiError, float], None] | None = None,
        on_poll: Callable[[Batch, Progress], None] | None = None,
    ) -> Batch:
        """Fetch the batch every `poll_seconds` until it is no longer active; return it as it ended.

        `on_poll` hears each fetched batch (the last, finished one too) with its progress (rate and ETA over the
        observations the cache recorded), so a long wait can say how it goes. Transient failures (rate limits,
        server errors, lost connections) are ridden out as the app's poller rides them out, by core's Backoff up
        to `max_backoff`; `on_retry` hears each with the seconds until the next try. A failure that retrying will
        not fix ends the wait."""
        if not poll_seconds >= MIN_POLL_SECONDS:
            raise BatchtuiError(f"A poll interval of {poll_seconds:g} s would flood the API: "
                                f"at least {MIN_POLL_SECONDS:g} s.")
        backoff = Backoff(poll_seconds, max(poll_seconds, max_backoff))
        while True:
            try:
                batch = await self.fetch_batch(batch_id)
            except BatchtuiError as exc:
                if not exc.retryable:
                    raise
                delay = backoff.failed(exc)
                if on_retry is not None:
                    on_retry(exc, delay)
            else:
                if on_poll is not None:
                    now = time.time()
                    recent = await self.observations(batch.id, since=now - RATE_WINDOW_SECONDS)
                    on_poll(batch, batch_progress(batch, recent, now))
                if batch.status not in ACTIVE_STATUSES:
                    return batch
                backoff.succeeded()
                delay = poll_seconds
            await asyncio.sleep(delay)

    async def observations(self, batch_id: str, *, since: float | None = None) -> list[ProgressObservation]:
        """The batch's recorded progress (since `since`, when given), oldest first, for rate and ETA."""
        return await self.cache.observations(batch_id, since=since)

    async def files(self, *, purpose: str | None = None) -> list[FileObject]:
        """Cached files, newest first."""
        return await self.cache.list_files(purpose=purpose)

    async def refresh_files(self) -> list[FileObject]:
        """All files of the account from the API, stored in the cache; cached files the API no longer lists
        (deleted elsewhere) are forgotten. Newest first."""
        files = await self.service.list_files()
        listed = {file.id for file in files}
        for cached in await self.cache.list_files():
            if cached.id not in listed:
                await self.cache.forget_file(cached.id)
        await self.cache.upsert_files(files)
        return await self.cache.list_files()

    async def download_file(self, file_id: str, dest: Path, *, progress: ProgressCallback | None = None) -> Path:
        """Download any file to `dest`: a folder, or a new path without a suffix ("reports/nov", made as a
        folder), gets the file's own name; any other path is the file to write."""
        info = await self.service.retrieve_file(file_id)
        if dest.is_dir() or (not dest.exists() and not dest.suffix):
            dest = inside(dest, safe_name(info.filename) if info.filename else cached_name(file_id, "", None))
        with file_errors(SaveError, "write", dest):
            await self.service.download(file_id, dest, size=info.bytes, progress=progress)
        return dest

    async def upload(self, path: Path, *, expires_after_seconds: int | None = None,
                     progress: ProgressCallback | None = None) -> FileObject:
        """Upload a batch input file (to expire that long after its creation, if given) and note it in the cache."""
        uploaded = await self.service.upload(path, expires_after_seconds=expires_after_seconds, progress=progress)
        await self.cache.upsert_files([uploaded])
        await self.cache.record_upload(uploaded.id, path, uploaded.bytes)
        return uploaded

    async def delete_file(self, file_id: str) -> None:
        """Delete a file on the API and forget it here (a downloaded copy on disk stays the user's)."""
        await self.service.delete_file(file_id)
        await self.cache.forget_file(file_id)

    async def start_batch(
        self, input_file_id: str, endpoint: str, *, metadata: dict[str, str] | None = None,
        output_expires_after_seconds: int | None = None, estimate: Cost | None = None, once: bool = False,
    ) -> Batch:
        """Create a batch over an uploaded file and note it in the cache, with validation's cost `estimate` if
        there is one (the detail compares it with the actual); its output and error files expire that long after
        they are made, if given. A file uploaded from here also puts its requests in llm_logs at once (responses
        NULL until the batch is imported again). `once`: see BatchService.create."""
        batch = await self._remember(await self.service.create(
            input_file_id, endpoint, metadata=metadata, output_expires_after_seconds=output_expires_after_seconds,
            once=once))
        if estimate is not None:
            fields = {"input_usd": estimate.input_usd, "cached_usd": estimate.cached_usd,
                      "output_usd": estimate.output_usd, "total_usd": estimate.total_usd, "basis": estimate.basis}
            text = orjson.dumps({key: str(value) for key, value in fields.items()}).decode()
            await self.cache.set_meta(_ESTIMATE + batch.id, text)
        await self._log_uploaded_requests(batch)
        return batch

    async def batch_estimate(self, batch_id: str) -> Cost | None:
        """The cost validation estimated when the batch was started from here (output at its max_tokens
        ceiling), or None."""
        raw = await self.cache.get_meta(_ESTIMATE + batch_id)
        if raw is None:
            return None
        fields = orjson.loads(raw)
        return Cost(Decimal(fields["input_usd"]), Decimal(fields["cached_usd"]), Decimal(fields["output_usd"]),
                    Decimal(fields["total_usd"]), basis=fields["basis"])

    async def _log_uploaded_requests(self, batch: Batch) -> None:
        """Import the batch's rows from the local file its input was uploaded from, if that file is unchanged;
        this is a convenience, so any failure is skipped."""
        try:
            source = await self.cache.upload_source(batch.input_file_id)
            info = await self.cache.get_file(batch.input_file_id)
            if source is None or info is None or source.stat().st_size != info.bytes:
                return
            await import_batch(self.cache, LogSource(batch, ResultFiles(input=source), input_file=info,
                                                     provider=self.profile.kind))
        except Exception:  # noqa: BLE001 - starting the batch must not fail because of its log rows
            return

    async def import_batch(
        self, batch: Batch | str, *, progress: ProgressCallback | None = None, force: bool = False,
        files: ResultFiles | None = None,
    ) -> ImportResult:
        """Put every request of the batch (a cached Batch, or an id to fetch) into llm_logs, with its latest
        attempt's response; files are downloaded into the cache once. A batch unchanged since its last import is
        not read again unless `force`. `progress` gets bytes downloaded, then bytes imported.

        `files` are results already on disk, read instead of the cache's copies: downloaded elsewhere
        (`get-batch-results -o DIR`: the input then comes from the cache, fetched once), or a job's part with its
        retries' results in `files.retries` (named as the cache names downloads)."""
        if isinstance(batch, str):
            batch = await self.fetch_batch(batch)
        retries = await self.cache.retries_of(batch.id) if files is None or files.retries else []
        if not force:
            last = await asyncio.to_thread(last_import, self.cache.path, batch.id)
            if last is not None and last[0] == signature(batch, retries, self.profile.kind):
                return last[1]
        if files is None:
            files = await self.batch_result_files(batch, progress=progress)
        elif files.input is None and batch.input_file_id:
            files = replace(files, input=await self.file_copy(
                batch.input_file_id, "input", batch_id=batch.id, progress=progress))
        source = LogSource(batch, files, input_file=await self.file_info(batch.input_file_id),
                           retries=align_retries(files, retries), provider=self.profile.kind)
        result = await import_batch(self.cache, source, store_dir=self.index_dir(), progress=progress, force=force)
        try:
            await self.push_logs([batch.id])
        except BatchtuiError as exc:  # the local rows are in; what was not pushed waits for the next push
            self.push_problem = str(exc)
        return result

    def log_store(self) -> LogStore | None:
        """The team's PostgreSQL log store, when the profile's config names one."""
        settings = self.profile.log_store
        return None if settings is None else LogStore(settings, self.cache.path, self.profile.name)

    async def push_logs(self, batch_ids: list[str] | None = None, *,
                        progress: ProgressCallback | None = None) -> PushResult | None:
        """Push these batches' llm_logs rows (None: all that wait) to the team's log store; None without one.
        LogStoreError says why a push failed; what was not pushed still waits."""
        store = self.log_store()
        return None if store is None else await push_async(store, batch_ids, progress=progress)

    async def log_finished(self, *, budget: int = LOG_REQUESTS_PER_PASS, imports: bool = True) -> LogPass:
        """Import finished batches that llm_logs has no rows of yet, oldest first, until their requests add up to
        `budget` (a bigger batch goes alone), so a big account fills llm_logs over many calls and none is long.
        A batch that fails to import is named in the answer and not tried again by this workspace; the original
        of a retry that finished is imported again, so its rows show the latest attempt. Then push what waits for
        the team's log store, if there is one. `imports` False: only that push (a profile that does not import
        as batches finish still sends what its own imports left waiting)."""
        done: list[ImportResult] = []
        failed: list[tuple[str, str]] = []
        pending = [b for b in await self.cache.unlogged_batches() if b.id not in self._log_failures] if imports else []
        spent = handled = 0
        for batch in pending:
            size = batch.request_counts.total if batch.request_counts else 0
            if handled and spent + size > budget:
                break
            spent += size
            handled += 1
            try:
                done.append(await self.import_batch(batch))
                if (batch.metadata or {}).get(RETRY_OF):
                    done.append(await self.import_batch(await self._first_attempt(batch)))
            except BatchtuiError as exc:
                self._log_failures.add(batch.id)
                failed.append((batch.id, str(exc)))
        push_problem = None
        try:
            await self.push_logs()
        except BatchtuiError as exc:
            push_problem = str(exc)
        return LogPass(done, failed, left=len(pending) - handled, push_problem=push_problem)

    async def cancel_batch(self, batch_id: str) -> Batch:
        """Ask the API to cancel; finished lines stay in the batch's output file."""
        return await self._remember(await self.service.cancel(batch_id))

    async def _remember(self, batch: Batch) -> Batch:
        await self.cache.upsert_batches([batch], observed_at=time.time())
        return batch

    async def fetch_results(
        self, batch: Batch, dest_dir: Path | None = None, *, progress: ProgressCallback | None = None
    ) -> list[DownloadedFile]:
        """Download a batch's output and error files (into the cache unless `dest_dir` is given)."""
        folder = dest_dir or self.cache_dir / "files"
        return await download_results(self.service, self.cache, batch, folder, progress=progress)

    async def batch_result_files(self, batch: Batch, *, progress: ProgressCallback | None = None) -> ResultFiles:
        """A batch's input, output and error files as local paths for the result viewer: streamed into the
        cache the first time, read from there after (no network)."""
        folder = self.cache_dir / "files"
        records = await download_results(self.service, self.cache, batch, folder, progress=progress, with_input=True)
        paths = {record.kind: record.path for record in records}
        retries = []
        for retry in await self.cache.retries_of(batch.id):
            got = {r.kind: r.path for r in await download_results(self.service, self.cache, retry, folder,
                                                                    progress=progress)}
            if got:
                retries.append(ResultFiles(output=got.get("output"), errors=got.get("error")))
        return ResultFiles(input=paths.get("input"), output=paths.get("output"), errors=paths.get("error"),
                           retries=tuple(retries))

    async def retry_preview(self, batch: Batch, *, progress: ProgressCallback | None = None) -> RetryPreview:
        """What a retry of `batch` would send: how many requests of each kind (their latest attempt failed,
        expired or was cancelled), and what one request costs on average in this batch (None when it has used
        no tokens or its model has no price), for the retry dialog."""
        files = await self.batch_result_files(batch, progress=progress)
        index = await asyncio.to_thread(build_index, files, store_dir=self.index_dir())
        try:
            counts = {kind: len(rows_to_retry(index, [kind])) for kind in RETRY_KIND_NAMES}
        finally:
            index.close()
        cost = batch_cost(batch)
        done = requests_done(batch)
        per_request = Cost.of(cost.input_usd / done, cost.cached_usd / done, cost.output_usd / done,
                              cost.basis) if cost else None
        return RetryPreview(counts, per_request)

    async def retry_batch(
        self,
        batch: Batch,
        only: Collection[RetryKind] = RETRY_KIND_NAMES,
        *,
        progress: ProgressCallback | None = None,
    ) -> Batch:
        """Send again, as a new batch, the requests of `batch` whose latest attempt failed, expired or was
        cancelled (as `only` says): their original input lines, uploaded and started with metadata
        `retry_of` = this batch, so the result viewer shows each request's latest attempt."""
        running = [b.id for b in await self.cache.retries_of(batch.id) if b.status in ACTIVE_STATUSES]
        if running:
            raise RetryRefused(f"Retry {running[0]} of {batch.id} is still running: wait for it, or cancel it.")
        files = await self.batch_result_files(batch, progress=progress)
        index = await asyncio.to_thread(build_index, files, store_dir=self.index_dir())
        try:
            rows = rows_to_retry(index, only)
            dest = inside(self.cache_dir / "retries", safe_name(batch.id, suffix=f"-retry-{int(time.time())}.jsonl"))
            make_private_dirs(dest.parent)
            count = await asyncio.to_thread(write_retry_file, index, rows, dest)
        finally:
            index.close()
        report = await asyncio.to_thread(validate_file, dest, endpoint=batch.endpoint)
        if not report.ok:
            dest.unlink(missing_ok=True)
            raise RetryRefused(f"The retry file would fail validation: {report.problems[0].describe(dest)}")
        uploaded = await self.upload(dest, progress=progress)
        about = (batch.metadata or {}).get("description") or batch.id
        metadata = {RETRY_OF: batch.id, "description": f"Retry of {about}: {count:,} requests"[:512]}
        return await self.start_batch(uploaded.id, batch.endpoint, metadata=metadata)

    async def file_copy(
        self, file_id: str, kind: str, *, batch_id: str | None = None, progress: ProgressCallback | None = None
    ) -> Path:
        """A local copy of any file in the cache (downloaded once), e.g. to open one file in the viewer."""
        dest = inside(self.cache_dir / "files", cached_name(file_id, kind, batch_id))
        record = await download_once(
            self.service, self.cache, file_id, dest, kind=kind, batch_id=batch_id, progress=progress
        )
        return record.path

    async def data_join(
        self, batch: Batch, *, manifest: Path | None = None, data: Path | None = None
    ) -> DataJoin | None:
        """The data rows a batch's requests were made from, to export results beside them: read through the
        manifest that make-batch-file wrote beside the file uploaded from here (a retry uses its first batch's),
        or the `manifest` given; `data` stands in for a data file that has moved. None when there is none."""
        if manifest is None:
            source = await self.cache.upload_source((await self._first_attempt(batch)).input_file_id)
            manifest = manifest_path(source) if source is not None else None
            if manifest is None or not manifest.is_file():
                return None
        loaded = load_manifest(manifest)
        columns, rows = await asyncio.to_thread(data_rows_by_custom_id, loaded, data)
        return DataJoin(columns, {custom_id: row.values for custom_id, row in rows.items()})

    async def _first_attempt(self, batch: Batch) -> Batch:
        """The batch a retry (of a retry...) was first made for, as far as the cache knows; else `batch`."""
        root = batch
        for _ in range(_MAX_RETRY_DEPTH):
            parent = (root.metadata or {}).get(RETRY_OF)
            found = await self.cache.get_batch(parent) if parent else None
            if found is None:
                break
            root = found
        return root

    async def batch_sources(self, batch: Batch) -> set[Path]:
        """The local files a batch was made from: the file its input was uploaded from (its first attempt's too,
        for a retry), the make-batch-file manifest beside it and the data file that names. An export must never
        replace one of them."""
        sources: set[Path] = set()
        for attempt in {batch.id: batch, (root := await self._first_attempt(batch)).id: root}.values():
            upload = await self.cache.upload_source(attempt.input_file_id)
            if upload is None:
                continue
            sources |= {upload, manifest_path(upload)}
            with suppress(ManifestError):
                sources.add(load_manifest(manifest_path(upload)).data_file)
        return sources

    def index_dir(self) -> Path:
        """Where result indexes are kept, so re-opening a batch's results needs no rescan."""
        return self.cache_dir / "index"

    @property
    def cache_path(self) -> Path:
        """The cache's SQLite file: SQL runs on it read-only, on a connection of its own."""
        return self.cache.path

    async def expired_on_api(self, file_ids: Iterable[str]) -> list[FileObject]:
        """Those of the files whose expiry (as the cache knows it) has passed: the API has deleted them, and what
        opens is the copy cached here."""
        now = time.time()
        found = [await self.cache.get_file(file_id) for file_id in file_ids]
        return [f for f in found if f is not None and f.expires_at is not None and f.expires_at <= now]

    async def file_info(self, file_id: str) -> FileObject:
        """A file's object from the cache, else from the API (and then cached): name and size for a screen."""
        cached = await self.cache.get_file(file_id)
        if cached is not None:
            return cached
        info = await self.service.retrieve_file(file_id)
        await self.cache.upsert_files([info])
        return info

    async def preview_lines(self, file_id: str, n: int = 50, *, max_bytes: int = 1 << 20) -> list[str]:
        """The first `n` lines of a file, from its downloaded copy or streamed from the API.

        Reading stops after `n` lines or `max_bytes`, so a multi-GB output file costs one small read;
        a line cut off by `max_bytes` ends in "…".
        """
        known = await self.cache.get_download(file_id)
        if known is not None and known.path.is_file():
            try:
                return await asyncio.to_thread(_read_head, known.path, n, max_bytes)
            except OSError:
                pass  # the copy went away or is unreadable: stream it instead
        return _split_head(await self.service.head(file_id, max_lines=n, max_bytes=max_bytes), n, max_bytes)

    async def file_lines(self, file_id: str, *, progress: ProgressCallback | None = None) -> FileLines:
        """Every line of a file, read on demand from its local copy (downloaded once into the cache when there is
        none), so a preview can show a 200 MB file whole while holding only the lines on screen. Close it after."""
        known = await self.cache.get_download(file_id)
        if known is not None and known.path.is_file() and known.path.stat().st_size == known.bytes:
            path = known.path
        else:
            kind = "input" if (await self.file_info(file_id)).purpose == "batch" else "output"
            path = await self.file_copy(file_id, kind, progress=progress)
        with file_errors(BatchtuiError, "read", path):
            return await asyncio.to_thread(FileLines, path)


PREVIEW_CHUNK = 64 * 1024


def _read_head(path: Path, n: int, max_bytes: int) -> list[str]:
    head = bytearray()
    with path.open("rb") as handle:
        while head.count(b"\n") < n and len(head) < max_bytes:
            chunk = handle.read(PREVIEW_CHUNK)
            if not chunk:
                break
            head += chunk
    return _split_head(bytes(head), n, max_bytes)


def _split_head(head: bytes, n: int, max_bytes: int) -> list[str]:
    """Decode the first `n` lines; a last line cut off by the byte limit is marked with "…"."""
    cut = len(head) >= max_bytes
    lines = head[:max_bytes].split(b"\n")
    unfinished = lines.pop()
    if unfinished:
        lines.append(unfinished)
    text = [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in lines[:n]]
    if cut and unfinished and len(lines) <= n:
        text[-1] += "…"
    return text
