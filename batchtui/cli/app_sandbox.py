"""The commands that open something interactive or serve: the terminal app (the default command), the result
viewer on local files, and the local sandbox server. Textual and the sandbox load only when one of them runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from batchtui.cli.common import ProfileOption
from batchtui.cli.render import check_input_file, fail
from batchtui.core.config import Profile, resolve_profile
from batchtui.core.errors import BatchtuiError
from batchtui.core.text import plural, printable

if TYPE_CHECKING:
    from batchtui.core.results.index import ResultFiles


def tui(
    *,
    demo: Annotated[bool, Parameter(negative=(), help="Try the app against a local sandbox seeded with demo "
                                                      "batches: no account or API key needed.")] = False,
    bell: Annotated[bool, Parameter(negative=(), help="Ring the terminal bell when a batch changes status.")] = False,
    profile: ProfileOption = None,
) -> None:
    """Open the terminal app (with --demo: against a seeded local sandbox, no account needed)."""
    import functools

    from batchtui.tui.app import run_app

    try:
        if demo:
            _run_demo(functools.partial(run_app, bell=bell))
        else:
            run_app(resolve_profile(profile), bell=bell)
    except BatchtuiError as exc:
        fail(str(exc))


def _run_demo(run_app: Callable[..., None]) -> None:
    import tempfile

    from batchtui.sandbox import SandboxConfig, SandboxServer

    with tempfile.TemporaryDirectory(prefix="batchtui-demo-") as home, SandboxServer(
        SandboxConfig(seed_demo=True)
    ) as server:
        profile = Profile(name="demo", base_url=server.base_url, api_key="sk-demo")
        run_app(profile, cache_dir=Path(home) / "cache", demo=True)


def view(
    output: Annotated[Path | None, Parameter(help="The output file (or any batch JSONL file).")] = None,
    /,
    *,
    input_file: Annotated[Path | None, Parameter(name=["--input", "-i"], help="The batch's input file.")] = None,
    errors: Annotated[Path | None, Parameter(name=["--errors", "-e"], help="The batch's error file.")] = None,
    export: Annotated[Path | None, Parameter(help="Write every row to this .csv or .jsonl file, as the viewer's "
                                                  "export (e) does, instead of opening the viewer.")] = None,
    profile: ProfileOption = None,
) -> None:
    """Open the result viewer on local files: each request beside its response (no account needed). Files are
    taken for what their lines hold, whichever way they were named."""
    from batchtui.core.results.index import ResultFiles, arrange_files

    given = [path for path in (output, input_file, errors) if path is not None]
    if not given:
        fail("view: name at least one file: OUTPUT, --input or --errors")
    for path in given:
        check_input_file(path)
    try:
        files = arrange_files(ResultFiles(input=input_file, output=output, errors=errors))
        if export is not None:
            _export_view(files, export)
            return
        chosen = resolve_profile(profile)
    except BatchtuiError as exc:
        fail(str(exc))
    from batchtui.tui.viewer_app import ViewerApp

    ViewerApp(files, chosen).run()


def _export_view(files: ResultFiles, dest: Path) -> None:
    """Write every row of the files to `dest` through the export the viewer's `e` uses, and name it on stdout."""
    from batchtui.core.results.export import check_export_dest, export_results
    from batchtui.core.results.index import build_index

    if dest.suffix.lower() not in (".csv", ".jsonl"):
        fail(f"--export {dest}: name a .csv or .jsonl file")
    check_export_dest(dest, files.paths())
    index = build_index(files)
    try:
        written = export_results(index, range(len(index)), dest)
    finally:
        index.close()
    print(printable(f"{dest}: {plural(written, 'row')}"))


def sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 8750,
    speed: Annotated[float, Parameter(help="Run the clock this many times faster.")] = 1.0,
    fail_rate: Annotated[float, Parameter(help="Share of lines (0..1) that fail with a 400 body.")] = 0.0,
    data_dir: Annotated[Path | None, Parameter(help="Keep state here across restarts.")] = None,
    seed_demo: Annotated[bool, Parameter(negative=(), help="Start with a believable demo account.")] = False,
    faults: Annotated[str | None, Parameter(help="e.g. '429=0.1,500=0.05,slow=0.1,drop=0.05'.")] = None,
    models: Annotated[str | None, Parameter(help="More models to serve besides the known OpenAI ones, e.g. "
                                                 "'acme-1,acme-2'; a batch of any other fails with model_not_found.")]
    = None,
    enqueued_token_limit: Annotated[int | None, Parameter(help="Input tokens all queued and running batches of one "
                                                               "model may hold; a batch past it fails with "
                                                               "token_limit_exceeded. No limit by default.")] = None,
) -> None:
    """Serve a local OpenAI-compatible Batch and Files API with a fake model, until stopped."""
    from batchtui.sandbox import FaultConfig, SandboxConfig, run_forever

    if not 0 <= port <= 65535:
        fail(f"--port {port}: expected 1-65535, or 0 for any free port")
    if data_dir is not None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            fail(f"--data-dir {data_dir}: is a file, not a folder")
        except OSError as exc:
            fail(f"--data-dir {data_dir}: cannot make the folder ({exc.strerror or exc})")
    extra_models = tuple(name.strip() for name in (models or "").split(",") if name.strip())
    if models is not None and not extra_models:
        fail("--models: name at least one model, e.g. --models acme-1,acme-2")
    if enqueued_token_limit is not None and enqueued_token_limit < 1:
        fail(f"--enqueued-token-limit {enqueued_token_limit}: expected a whole number of tokens >= 1")
    try:
        fault_config = FaultConfig.parse(faults) if faults else FaultConfig.from_env()
        config = SandboxConfig(
            speed=speed,
            fail_rate=fail_rate,
            data_dir=data_dir,
            seed_demo=seed_demo,
            faults=fault_config,
            models=extra_models,
            enqueued_token_limit=enqueued_token_limit,
        )
    except ValueError as exc:
        fail(f"{'--faults: ' if faults else ''}{exc}")

    def announce(base_url: str) -> None:
        print(base_url, flush=True)
        print(f"Point the SDK at it: OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-anything", file=sys.stderr)

    try:
        run_forever(config, host, port, on_ready=announce)
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")
