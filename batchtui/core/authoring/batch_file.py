"""Making a batch input file from a template and a data file, and the manifest that joins results back.

Each data row becomes one request line, `{"custom_id", "method", "url", "body"}` in that order, with
custom_id `id_<value of the id column>` (or `id_<row number>`). A bad row stops the run with a message
naming the data file, the row and the id, or is skipped and listed when asked. The batch file and its
manifest are written whole or not at all: temp files beside them replace them only once both are on
disk, so an error or a cancel leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from batchtui.core.atomic import temp_beside
from batchtui.core.authoring.datasets import (
    DataFileError,
    DataRow,
    RowError,
    custom_id_for,
    default_id_column,
    id_text,
    read_columns,
    read_rows,
)
from batchtui.core.authoring.templates import Renderer, Template, load_template, parse_template
from batchtui.core.domain import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, Cancelled, ProgressCallback
from batchtui.core.errors import BatchtuiError, file_errors

MANIFEST_FORMAT = "batchtui-manifest/1"
_PROGRESS_EVERY = 1000



class BatchFileError(BatchtuiError):
    """The batch file cannot be made as asked."""


class BadRowError(BatchFileError):
    """A data row cannot become a request: `<data file> row N (id X): <reason>`."""

    def __init__(self, message: str, row: int, id: str, reason: str) -> None:
        super().__init__(message)
        self.row, self.id, self.reason = row, id, reason


class BatchFileCancelled(Cancelled):
    """Making the batch file was cancelled; nothing was written."""


class ManifestError(BatchtuiError):
    """The manifest is missing, damaged or of a format this version does not read."""


class DataChangedError(ManifestError):
    """The data file is no longer the one the batch file was made from."""


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A data row left out of the batch file, and why."""

    row: int
    id: str
    reason: str


@dataclass(frozen=True)
class MadeBatchFile:
    """What make_batch_file wrote."""

    out: Path
    manifest: Path
    rows: int
    skipped: tuple[SkippedRow, ...]
    endpoint: str
    model: str | None


@dataclass(frozen=True)
class Manifest:
    """How a batch file was made, kept beside it as OUT.manifest.json so results can be joined to the data."""

    template: str
    template_file: Path | None
    data_file: Path
    data_sha256: str
    id_column: str | None
    """The column custom_ids come from; None when they are row numbers."""
    rows: int
    skipped: tuple[SkippedRow, ...]
    endpoint: str
    model: str | None
    output_sha256: str
    created_at: datetime

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "format": MANIFEST_FORMAT,
                "template": self.template,
                "template_file": None if self.template_file is None else str(self.template_file),
                "data_file": str(self.data_file),
                "data_sha256": self.data_sha256,
                "id_column": self.id_column,
                "rows": self.rows,
                "skipped": [{"row": s.row, "id": s.id, "reason": s.reason} for s in self.skipped],
                "endpoint": self.endpoint,
                "model": self.model,
                "output_sha256": self.output_sha256,
                "created_at": self.created_at.isoformat(timespec="seconds"),
            },
            option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
        )


def manifest_path(out: Path) -> Path:
    """Where the manifest of batch file `out` lives: OUT.jsonl -> OUT.manifest.json."""
    return out.with_suffix(".manifest.json")


def infer_endpoint(body: Mapping[str, Any], model: str | None = None) -> str:
    """The endpoint a request body is for: messages -> chat completions; input -> embeddings when the model
    is an embedding model, else responses; prompt -> completions. `model` overrides the body's."""
    if "messages" in body:
        return CHAT
    if "input" in body:
        return EMBEDDINGS if "embedding" in str(model or body.get("model") or "") else RESPONSES
    if "prompt" in body:
        return COMPLETIONS
    raise BatchFileError("Cannot tell the endpoint from the request body (no messages, input or prompt); name it.")


def make_batch_file(
    template_path: Path | None,
    data_path: Path,
    out: Path,
    *,
    template_text: str | None = None,
    id_column: str | None = None,
    endpoint: str | None = None,
    model: str | None = None,
    skip_bad_rows: bool = False,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> MadeBatchFile:
    """Write one request line per data row to `out`, and its manifest beside it.

    The template is `template_text` when given (`template_path`, if also given, only names it), else the
    file. A request-line template's url and method are used; its custom_id is replaced by the row's, so
    results can always be joined back. `progress(done, 0)` is called every 1000 rows read, and
    `progress(done, done)` at the end.
    """
    if template_text is not None:
        template = parse_template(template_text, template_path.name if template_path else "template")
    elif template_path is not None:
        template = load_template(template_path)
    else:
        raise ValueError("make_batch_file needs template_path or template_text")
    columns = read_columns(data_path)
    template.check_columns(columns, data_path.name)
    if id_column is None:
        id_column = default_id_column(columns)
    elif id_column not in columns:
        raise BatchFileError(f"{data_path.name} has no id column {id_column!r}; its columns: {', '.join(columns)}.")
    if endpoint and template.url and endpoint != template.url:
        raise BatchFileError(f"{template.source} is a request line for {template.url}, not {endpoint}.")
    manifest_file = manifest_path(out)
    _refuse_to_replace_inputs(out, {"template": template_path, "data file": data_path})
    lines = _Lines(template, data_path.name, id_column, endpoint or template.url, model, skip_bad_rows)
    data_sha256 = _sha256(data_path)
    digest, done = hashlib.sha256(), 0
    with ExitStack() as cleanup:
        fh, staged = _stage(out, cleanup)
        with file_errors(BatchFileError, "write", out):
            for row in read_rows(data_path):
                if cancelled():
                    raise BatchFileCancelled(f"Making {out.name} was cancelled; nothing was written.")
                if line := lines.of(row):
                    fh.write(line)
                    digest.update(line)
                done += 1
                if progress and done % _PROGRESS_EVERY == 0:
                    progress(done, 0)
            fh.flush()
            os.fsync(fh.fileno())
        if lines.written == 0:
            raise BatchFileError(f"{data_path.name} gave no requests: {_why_none(lines.skipped)}; nothing was written.")
        assert lines.endpoint is not None  # the first line written settled it
        manifest = Manifest(
            template=template.text,
            template_file=template_path.resolve() if template_path else None,
            data_file=data_path.resolve(),
            data_sha256=data_sha256,
            id_column=id_column,
            rows=lines.written,
            skipped=tuple(lines.skipped),
            endpoint=lines.endpoint,
            model=model or template.model,
            output_sha256=digest.hexdigest(),
            created_at=datetime.now(UTC),
        )
        manifest_fh, staged_manifest = _stage(manifest_file, cleanup)
        with file_errors(BatchFileError, "write", manifest_file):
            manifest_fh.write(manifest.to_json())
            manifest_fh.flush()
            os.fsync(manifest_fh.fileno())
        with file_errors(BatchFileError, "write", out):
            os.replace(staged, out)
            try:
                os.replace(staged_manifest, manifest_file)
            except OSError:
                out.unlink(missing_ok=True)
                raise
    if progress:
        progress(done, done)
    return MadeBatchFile(out, manifest_file, manifest.rows, manifest.skipped, manifest.endpoint, manifest.model)


def load_manifest(path: Path) -> Manifest:
    """Read a manifest written by make_batch_file; ManifestError says what is wrong with it."""
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ManifestError(f"No manifest at {path}; make-batch-file writes one beside the batch file.") from None
    except OSError as exc:
        raise ManifestError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not a batchtui manifest (not JSON: {exc.msg}).") from None
    if not isinstance(raw, dict) or "format" not in raw:
        raise ManifestError(f"{path} is not a batchtui manifest (no format field).")
    if raw["format"] != MANIFEST_FORMAT:
        raise ManifestError(f"{path} has the unknown manifest format {raw['format']!r}; this batchtui reads "
                            f"{MANIFEST_FORMAT}.")

    def get(key: str, kind: type | tuple[type, ...]) -> Any:
        value = raw.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise ManifestError(f"{path} is damaged: {key!r} is missing or of the wrong type.")
        return value

    skipped = []
    for item in get("skipped", list):
        if not isinstance(item, dict) or not (
            isinstance(item.get("row"), int) and isinstance(item.get("id"), str) and isinstance(item.get("reason"), str)
        ):
            raise ManifestError(f"{path} is damaged: an entry of 'skipped' is not a row, id and reason.")
        skipped.append(SkippedRow(item["row"], item["id"], item["reason"]))
    try:
        created_at = datetime.fromisoformat(get("created_at", str))
    except ValueError:
        raise ManifestError(f"{path} is damaged: 'created_at' is not an ISO 8601 time.") from None
    template_file = get("template_file", (str, type(None)))
    return Manifest(
        template=get("template", str),
        template_file=None if template_file is None else Path(template_file),
        data_file=Path(get("data_file", str)),
        data_sha256=get("data_sha256", str),
        id_column=get("id_column", (str, type(None))),
        rows=get("rows", int),
        skipped=tuple(skipped),
        endpoint=get("endpoint", str),
        model=get("model", (str, type(None))),
        output_sha256=get("output_sha256", str),
        created_at=created_at,
    )


def data_rows_by_custom_id(manifest: Manifest, data_path: Path | None = None) -> tuple[list[str], dict[str, DataRow]]:
    """The data's columns and the row behind each custom_id of the batch file, to join results to the data.

    `data_path` overrides the manifest's data_file (a moved file); its bytes must still be the same.
    """
    path = data_path or manifest.data_file
    if _sha256(path) != manifest.data_sha256:
        raise DataChangedError(
            f"{path} changed since the batch file was made (its sha256 is not the manifest's); "
            "its rows cannot be matched to the results."
        )
    skipped = {s.row for s in manifest.skipped}
    rows: dict[str, DataRow] = {}
    for row in read_rows(path):
        if row.error is None and row.number not in skipped:
            try:
                rows.setdefault(custom_id_for(row, manifest.id_column), row)
            except RowError:
                continue
    return read_columns(path), rows


class _Lines:
    """Turns data rows into request lines, keeping the rows it skips and the endpoint it settles on."""

    def __init__(
        self,
        template: Template,
        data_name: str,
        id_column: str | None,
        endpoint: str | None,
        model: str | None,
        skip_bad_rows: bool,
    ) -> None:
        self.template, self.data_name, self.id_column = template, data_name, id_column
        self.endpoint, self.model, self.skip_bad_rows = endpoint, model, skip_bad_rows
        self.body: Renderer = template.body(model)
        self.skipped: list[SkippedRow] = []
        self.written = 0
        self._head: bytes | None = None
        self._seen: dict[str, int] = {}

    def of(self, row: DataRow) -> bytes | None:
        """The row's request line, or None when the row is skipped; raises BadRowError when not skipping."""
        try:
            line = self._line(row)
        except RowError as exc:
            ident = id_text(row, self.id_column)
            shown = f" (id {ident})" if self.id_column and ident.strip() else ""
            where = f" (line {row.line})" if row.line is not None else ""
            message = f"{self.data_name} row {row.number}{shown}: {exc}{where}"
            if not self.skip_bad_rows:
                raise BadRowError(message, row.number, ident, str(exc)) from None
            self.skipped.append(SkippedRow(row.number, ident, str(exc)))
            return None
        self.written += 1
        return line

    def _line(self, row: DataRow) -> bytes:
        if row.error:
            raise RowError(row.error)
        custom_id = custom_id_for(row, self.id_column)
        first = self._seen.get(custom_id)
        if first is not None:
            raise RowError(f"duplicate id (first on row {first})")
        body = self.body.render(row.values)
        if self._head is None:
            self._head = self._head_from(body)
        self._seen[custom_id] = row.number
        return b'{"custom_id":' + orjson.dumps(custom_id) + self._head + body + b"}\n"

    def _head_from(self, body: bytes) -> bytes:
        """The line's method and url, settled from the first body, which is also checked to be JSON."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BatchFileError(f"{self.template.source}: the first row makes invalid JSON ({exc.msg}).") from None
        if self.endpoint is None:
            try:
                self.endpoint = infer_endpoint(parsed, self.model)
            except BatchFileError as exc:
                raise BatchFileError(f"{self.template.source}: {exc}") from None
        method = self.template.method or "POST"
        return b',"method":' + orjson.dumps(method) + b',"url":' + orjson.dumps(self.endpoint) + b',"body":'


def _why_none(skipped: list[SkippedRow]) -> str:
    if not skipped:
        return "it has no data rows"
    first = skipped[0]
    return f"all {len(skipped)} rows were skipped (the first, row {first.row}: {first.reason})"


def _stage(dest: Path, cleanup: ExitStack) -> tuple[BinaryIO, Path]:
    """A new temp file beside `dest`, open for writing; closed and removed when `cleanup` closes, unless it was
    renamed by then."""
    with file_errors(BatchFileError, "write", dest):
        return cleanup.enter_context(temp_beside(dest))


def _refuse_to_replace_inputs(out: Path, inputs: Mapping[str, Path | None]) -> None:
    """Raise BatchFileError when the batch file or its manifest would replace an input: when the name it is written
    under is the input's file (an output that is a link to an input is replaced as a link, which harms nothing)."""
    for path, what_out in ((out, "the output"), (manifest_path(out), f"the manifest of {out.name}")):
        entry = path.parent.resolve() / path.name
        for what, source in inputs.items():
            if source is not None and entry == source.resolve():
                raise BatchFileError(f"{path.name}, {what_out}, would replace the {what} {source.name}; "
                                     "name another output.")


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise DataFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None

