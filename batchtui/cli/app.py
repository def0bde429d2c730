"""The `batchtui` command: every command of the groups, in the order `batchtui --help` lists them."""

from __future__ import annotations

from cyclopts import App

from batchtui import __version__
from batchtui.cli import app_sandbox, authoring, batches, data, jobs, logs, serve

app = App(
    name="batchtui",
    version=__version__,
    help="See into your OpenAI Batch API jobs: a terminal app, a CLI and a local sandbox.",
    error_formatter=lambda error: "batchtui: " + " ".join(str(error).split()),
)
app.default(app_sandbox.tui)
for command in (app_sandbox.view, batches.list_batches, batches.show, batches.upload_batch_file, batches.start_batch,
                batches.get_batch_results, batches.cancel_batch, authoring.validate, authoring.make_batch_file):
    app.command(command)
app.command(authoring.split_command, name="split")
for command in (data.export_results, batches.retry_batch, data.import_batch, data.sql, data.stats, app_sandbox.sandbox):
    app.command(command)
app.command(jobs.job_app)
app.command(logs.logs_app)
app.command(serve.serve)
