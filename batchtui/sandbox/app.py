"""HTTP routes: the OpenAI Files and Batches API under /v1, and test knobs under /_sandbox."""

from __future__ import annotations

import shutil
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, Response

from . import params
from .config import FaultConfig
from .direct import add_direct_routes
from .errors import ApiError, error_body, invalid_type, invalid_url, missing_param
from .gateway import Gateway
from .runtime import SandboxRuntime


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class FileContent(FileResponse):
    """A file streamed from disk in 256 KiB chunks with its Content-Length."""

    chunk_size = 256 * 1024


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def create_app(rt: SandboxRuntime) -> Gateway:
    """The ASGI app for one runtime: FastAPI routes wrapped in the stats/faults/auth gateway."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, default_response_class=JSON)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return JSON(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return await _api_error(request, _from_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            return await _api_error(request, invalid_url(request.method, request.url.path))
        return JSON(error_body(str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Response:
        body = error_body("The sandbox had an error while processing your request.", type="server_error")
        return JSON(body, status_code=500)

    @app.post("/v1/files", name="files.create")
    async def create_file(request: Request) -> Any:
        await _refuse_oversized(request)
        async with request.form(max_files=1, max_fields=20) as form:
            upload = form.get("file")
            purpose = form.get("purpose")
            if not isinstance(upload, UploadFile):
                raise missing_param("file")
            if purpose is None:
                raise missing_param("purpose")
            params.choice("purpose", str(purpose), params.FILE_PURPOSES)
            expiry = None
            if form.get("expires_after[anchor]") is not None or form.get("expires_after[seconds]") is not None:
                expiry = params.expires_after(
                    {
                        k: form.get(f"expires_after[{k}]")
                        for k in ("anchor", "seconds")
                        if form.get(f"expires_after[{k}]")
                    },
                    "expires_after",
                )
            dest = rt.store.incoming_path()
            await run_in_threadpool(_copy_upload, upload, dest)
            rec = rt.add_upload(dest, upload.filename or "upload", str(purpose), expiry)
        return rec.to_api()

    @app.get("/v1/files", name="files.list")
    async def list_files(
        purpose: str | None = None, limit: int = 10000, order: str = "desc", after: str | None = None
    ) -> Any:
        params.int_range("limit", limit, 1, 10000)
        params.choice("order", order, ("asc", "desc"))
        rt.drop_expired()
        files, has_more = rt.store.list_files(purpose, after, limit, order)
        return page([f.to_api() for f in files], has_more)

    @app.get("/v1/files/{file_id}", name="files.retrieve")
    async def retrieve_file(file_id: str) -> Any:
        return rt.get_file(file_id).to_api()

    @app.get("/v1/files/{file_id}/content", name="files.content")
    async def file_content(file_id: str) -> Any:
        rec = rt.get_file(file_id)
        return FileContent(rt.store.blob_path(rec.id), media_type="application/octet-stream")

    @app.delete("/v1/files/{file_id}", name="files.delete")
    async def delete_file(file_id: str) -> Any:
        rt.get_file(file_id)
        rt.store.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    @app.post("/v1/batches", name="batches.create")
    async def create_batch(request: Request) -> Any:
        fields = params.batch_create(params.json_object(await request.body()))
        return rt.batch_body(rt.create_batch(fields))

    @app.get("/v1/batches", name="batches.list")
    async def list_batches(after: str | None = None, limit: int = 20) -> Any:
        params.int_range("limit", limit, 1, 100)
        with rt.store.lock:
            if after is not None and after not in rt.store.batches:
                return page([], False)
            batches, has_more = rt.store.list_batches(after, limit)
            return page([b.to_api() for b in batches], has_more)

    @app.get("/v1/batches/{batch_id}", name="batches.retrieve")
    async def retrieve_batch(batch_id: str) -> Any:
        return rt.batch_body(rt.get_batch(batch_id))

    @app.post("/v1/batches/{batch_id}/cancel", name="batches.cancel")
    async def cancel_batch(batch_id: str) -> Any:
        return rt.batch_body(rt.cancel_batch(batch_id))

    @app.get("/_sandbox/stats", name="sandbox.stats")
    async def sandbox_stats() -> Any:
        return rt.stats.snapshot()

    @app.post("/_sandbox/stats/reset", name="sandbox.stats_reset")
    async def sandbox_stats_reset() -> Any:
        rt.stats.reset()
        return {}

    @app.get("/_sandbox/faults", name="sandbox.faults_get")
    async def sandbox_faults_get() -> Any:
        return rt.faults.config.to_dict()

    @app.post("/_sandbox/faults", name="sandbox.faults")
    async def sandbox_faults(request: Request) -> Any:
        body = params.json_object(await request.body())
        try:
            faults = FaultConfig.from_dict(body)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc)) from None
        rt.set_faults(faults)
        return faults.to_dict()

    @app.get("/_sandbox/limits", name="sandbox.limits_get")
    async def sandbox_limits_get() -> Any:
        return rt.limits()

    @app.post("/_sandbox/limits", name="sandbox.limits")
    async def sandbox_limits(request: Request) -> Any:
        body = params.json_object(await request.body())
        try:
            return rt.set_limits(body)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    @app.post("/_sandbox/batches/{batch_id}/expire", name="sandbox.expire")
    async def sandbox_expire(batch_id: str) -> Any:
        rt.get_batch(batch_id)
        return rt.batch_body(await run_in_threadpool(rt.expire_batch, batch_id))

    add_direct_routes(app, rt)
    return Gateway(app, rt.stats, rt.faults, rt.config.api_key)


async def _refuse_oversized(request: Request) -> None:
    """OpenAI's 413 for an upload whose body is over 512 MiB, read to its end first (as OpenAI counts the bytes
    it read), so the client sees the answer rather than a connection cut mid-send; nothing is kept."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) <= params.MAX_UPLOAD_BYTES:
        return
    read = 0
    async for chunk in request.stream():
        read += len(chunk)
    raise ApiError(
        413,
        f"Maximum content size limit ({params.MAX_UPLOAD_BYTES}) exceeded ({read} bytes read)",
        type="server_error",
    )


def _copy_upload(upload: UploadFile, dest: Any) -> None:
    upload.file.seek(0)
    with open(dest, "wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)


def _from_validation(exc: RequestValidationError) -> ApiError:
    """Turn FastAPI's 422 into OpenAI's 400 naming the parameter."""
    err = exc.errors()[0]
    loc = [str(part) for part in err.get("loc", ()) if part not in ("query", "path", "body", "header")]
    param = ".".join(loc) or None
    kind = err.get("type", "")
    if kind == "missing" and param:
        return missing_param(param)
    if kind.endswith("_parsing") or kind.endswith("_type"):
        expected = {"int": "an integer", "float": "a number", "bool": "a boolean"}.get(
            kind.split("_")[0], "a valid value"
        )
        return invalid_type(param or "body", expected, err.get("input"))
    return ApiError(400, f"Invalid '{param}': {err.get('msg', 'invalid value')}.", param=param, code="invalid_value")
