"""The ``braze-cdi`` commands: options in, the core's calls, tables or JSON out.

Every command reports a failure as one line on standard error (``--debug`` adds the traceback)
and exits with the code ``exit_codes`` documents; the API key is never printed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from typing import Annotated, Literal

import typer
from rich.logging import RichHandler
from rich.text import Text

from .._client import AsyncBrazeCDIClient, BrazeCDIClient
from .._config import accept_renamed, check_integration_id
from .._errors import BrazeConfigError
from .._version import __version__
from ..testing import FakeBraze
from .demo import run_demo
from .exit_codes import EXIT_CODES_HELP, ExitCode, exit_code_for, worst_exit_code
from .output import (
    Outcome,
    Output,
    handles_table,
    integrations_table,
    jobs_table,
    outcome_json,
    results_table,
    stderr_console,
    stdout_console,
)
from .progress import SyncBoard
from .sample import SAMPLES, sample_workspace

__all__ = ["app", "main"]

_CONFIGURATION_HELP = (
    "Configuration: BRAZE_API_KEY (a REST API key with the cdi.integration_list, "
    "cdi.integration_job_status and cdi.integration_sync permissions) and BRAZE_REST_ENDPOINT "
    "(your instance, such as US-01 or https://rest.iad-01.braze.com), or --api-key and "
    "--rest-endpoint. `braze-cdi demo` and `braze-cdi fake` need neither."
)

app = typer.Typer(
    name="braze-cdi",
    help="Trigger, wait for and check Braze Cloud Data Ingestion (CDI) syncs.",
    epilog=f"{_CONFIGURATION_HELP}\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be more than 0 seconds, not {value:g}.")
    return value


ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="BRAZE_API_KEY",
        show_envvar=True,
        show_default=False,
        help="REST API key. Prefer the environment variable: other users of the machine can "
        "read a command line.",
    ),
]
RestEndpoint = Annotated[
    str | None,
    typer.Option(
        "--rest-endpoint",
        envvar="BRAZE_REST_ENDPOINT",
        show_envvar=True,
        show_default=False,
        help="Your instance's REST endpoint: an instance name (US-01), a host or a URL.",
    ),
]
RequestTimeout = Annotated[
    float,
    typer.Option(
        "--request-timeout",
        envvar="BRAZE_REQUEST_TIMEOUT",
        show_envvar=True,
        callback=_positive,
        help="Seconds each HTTP exchange with Braze may take, connect to last byte.",
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON on standard output instead of a table.")
]
Debug = Annotated[
    bool, typer.Option("--debug", help="Log every request and show tracebacks of errors.")
]


def main() -> None:
    """Run the command line: the ``braze-cdi`` console script.

    Examples:
        $ braze-cdi demo
        $ BRAZE_API_KEY=... BRAZE_REST_ENDPOINT=US-01 braze-cdi sync ID --wait
    """
    app(prog_name="braze-cdi")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"braze-cdi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Trigger, wait for and check Braze Cloud Data Ingestion (CDI) syncs."""


@app.command(epilog=EXIT_CODES_HELP)
def integrations(
    *,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """List the workspace's CDI integrations."""
    output = _set_up(as_json, debug)
    with _reporting(output), _client(api_key, rest_endpoint, request_timeout) as client:
        found = list(client.list_integrations())
    if as_json:
        output.data([integration.model_dump(mode="json") for integration in found])
    else:
        output.show(integrations_table(found))


@app.command(epilog=EXIT_CODES_HELP)
def jobs(
    integration_id: Annotated[str, typer.Argument(metavar="ID", help="The integration's id.")],
    *,
    limit: Annotated[int, typer.Option(min=1, help="How many jobs to read.")] = 10,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """List an integration's recent sync jobs, newest first.

    Reads the first LIMIT jobs Braze lists and sorts them by start time (Braze does not document
    the order of its list).
    """
    output = _set_up(as_json, debug)
    with _reporting(output), _client(api_key, rest_endpoint, request_timeout) as client:
        found = list(islice(client.list_sync_jobs(integration_id), limit))
    found.sort(key=lambda job: job.sync_start_time or _BEGINNING, reverse=True)
    if as_json:
        output.data([job.model_dump(mode="json") for job in found])
    else:
        output.show(jobs_table(found))


_BEGINNING = datetime.min.replace(tzinfo=timezone.utc)


@app.command(epilog=EXIT_CODES_HELP)
def sync(
    context: typer.Context,
    integration_ids: Annotated[
        list[str], typer.Argument(metavar="ID", help="The integrations to sync, at once.")
    ],
    *,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the syncs to end and print how they did.")
    ] = False,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait",
            callback=_positive,
            help="Seconds a sync may take, waiting for a running one "
            "included; then exit 3 (the sync goes on: Braze has no cancel call).",
        ),
    ] = 3600.0,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            callback=_positive,
            hidden=True,
            help="Deprecated: use --max-wait.",
        ),
    ] = None,
    poll_interval: Annotated[
        float,
        typer.Option(
            callback=_positive,
            help="Seconds between two status checks at first (it slows "
            "gently to 60 s while a job runs).",
        ),
    ] = 10.0,
    if_running: Annotated[
        Literal["wait", "attach", "fail"],
        typer.Option(
            help="When a job is running already: wait for it to end and then trigger, attach to "
            "it as this sync, or fail (exit 1)."
        ),
    ] = "wait",
    fail_on_partial: Annotated[
        bool,
        typer.Option("--fail-on-partial", help="With --wait: exit 1 when a sync ends partial."),
    ] = False,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Trigger a sync of each integration; with --wait, wait for them and print the results.

    Without --wait it prints what each trigger did (triggered, or attached to a running job).
    Several ids run concurrently; the exit code is the most serious of their outcomes.
    """
    output = _set_up(as_json, debug)
    with _reporting(output):
        max_wait = _renamed_max_wait(context, max_wait, timeout)
        for integration_id in integration_ids:
            check_integration_id(integration_id)
        if len(set(integration_ids)) != len(integration_ids):
            raise BrazeConfigError("The same integration id is given twice.")
        if fail_on_partial and not wait:
            raise BrazeConfigError("--fail-on-partial needs --wait.")
        key, endpoint = _configuration(api_key, rest_endpoint)

        async def run() -> Sequence[Outcome]:
            async with AsyncBrazeCDIClient(
                key, endpoint, request_timeout=request_timeout
            ) as client:
                if wait:
                    return await SyncBoard(stderr_console()).run(
                        integration_ids,
                        lambda integration_id, on_event: client.sync_and_wait(
                            integration_id,
                            max_wait=max_wait,
                            poll_interval=poll_interval,
                            if_running=if_running,
                            fail_on_partial=fail_on_partial,
                            on_event=on_event,
                        ),
                    )
                return await SyncBoard(stderr_console(), busy="triggering").run(
                    integration_ids,
                    lambda integration_id, on_event: client.start_sync(
                        integration_id,
                        max_wait=max_wait,
                        poll_interval=poll_interval,
                        if_running=if_running,
                        on_event=on_event,
                    ),
                )

        try:
            outcomes = asyncio.run(run())
        except KeyboardInterrupt:
            stderr_console().print(
                "Interrupted. Braze has no cancel call: a sync already triggered goes on."
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    if as_json:
        output.data(
            [outcome_json(i, o, output) for i, o in zip(integration_ids, outcomes, strict=True)]
        )
    elif wait:
        output.show(results_table(integration_ids, outcomes))
    else:
        output.show(handles_table(integration_ids, outcomes))
    for integration_id, outcome in zip(integration_ids, outcomes, strict=True):
        if isinstance(outcome, Exception):
            output.error(outcome, integration_id=integration_id)
    raise typer.Exit(worst_exit_code(outcomes))


@app.command()
def fake(
    *,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on; 0 picks a free one.")
    ] = 0,
) -> None:
    """Serve a simulated Braze workspace on 127.0.0.1 until Ctrl-C, to try the commands on.

    It prints the two environment variables to set in another shell. Its API key is made up
    and opens nothing but this server.
    """
    output = Output(as_json=False)
    workspace = sample_workspace()
    with _reporting(output):
        try:
            with workspace.serve(port=port) as url:
                _announce(url, workspace)
                threading.Event().wait()  # serve until interrupted
        except KeyboardInterrupt:
            stderr_console().print("Stopped.")
        except OSError as error:
            raise BrazeConfigError(
                f"Cannot serve on 127.0.0.1:{port}: {error.strerror or error}."
            ) from None


def _announce(url: str, workspace: FakeBraze) -> None:
    console = stdout_console()
    ids = list(workspace.integrations)
    console.print(
        f"[bold]FakeBraze[/], a simulated Braze workspace, is serving on {url}\n"
        "Its API key is made up and opens nothing but this server. In another shell:\n\n"
        f"  export BRAZE_REST_ENDPOINT={url}\n"
        f"  export BRAZE_API_KEY={workspace.api_key}\n"
        "  braze-cdi integrations\n"
        f"  braze-cdi sync {ids[0]} --wait --poll-interval 1\n",
        soft_wrap=True,
    )
    for integration_id, sample in zip(ids, SAMPLES, strict=True):
        console.print(
            f"  {integration_id}  [bold]{sample.name:<10}[/] each sync takes "
            f"{sample.duration:g} s and {sample.story}",
            soft_wrap=True,
        )
    console.print("\nPress Ctrl-C to stop.")
    console.file.flush()


@app.command()
def demo(*, debug: Debug = False) -> None:
    """Watch four syncs run at once against a simulated workspace (no account needed).

    One succeeds, one ends partial, one fails and one finds a job already running, all through
    the real client over HTTP; then a summary. It takes about ten seconds.
    """
    output = _set_up(False, debug)
    with _reporting(output):
        code = run_demo(stdout_console())
    raise typer.Exit(code)


# --- shared by the commands ---------------------------------------------------------------


def _renamed_max_wait(context: typer.Context, max_wait: float, timeout: float | None) -> float:
    """``--max-wait``, or the deprecated ``--timeout`` with a one-line notice on standard error;
    both given is a configuration error (exit 2), before any request."""
    source = context.get_parameter_source("max_wait")  # typer's own click: compare by name
    given = source is not None and source.name != "DEFAULT"
    waits = {"--max-wait": max_wait if given else None, "--timeout": timeout}
    with warnings.catch_warnings(record=True) as notices:
        warnings.simplefilter("always")
        accept_renamed(waits, {"--timeout": "--max-wait"})
    for notice in notices:
        stderr_console().print(Text(f"braze-cdi: {notice.message}"), soft_wrap=True)
    return waits["--max-wait"] or max_wait


def _set_up(as_json: bool, debug: bool) -> Output:
    """Route the log records (with ``--debug``, the core's and httpx's request lines go to
    standard error) and make the command's ``Output``."""
    core_log = logging.getLogger("braze_cdi")
    if debug:
        handler = RichHandler(console=stderr_console(), show_path=False)
        for logger in (core_log, logging.getLogger("httpx")):
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
    else:
        # Progress reaches people through the board; keep Python's last-resort handler from
        # printing raw records over it.
        core_log.addHandler(logging.NullHandler())
    return Output(as_json=as_json, debug=debug)


@contextmanager
def _reporting(output: Output) -> Iterator[None]:
    """Turn an error into its one line (or JSON) and its exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        output.fail(error)
        raise typer.Exit(exit_code_for(error)) from None


def _configuration(api_key: str | None, rest_endpoint: str | None) -> tuple[str, str]:
    """The key and endpoint, or a configuration error that names the variables to set."""
    if api_key and rest_endpoint:
        return api_key, rest_endpoint
    missing = [
        f"{env} (or {option})"
        for env, option, value in (
            ("BRAZE_API_KEY", "--api-key", api_key),
            ("BRAZE_REST_ENDPOINT", "--rest-endpoint", rest_endpoint),
        )
        if not value
    ]
    raise BrazeConfigError(
        f"Set {' and '.join(missing)}.",
        hint="`braze-cdi fake` serves a simulated workspace to try the commands on.",
    )


@contextmanager
def _client(
    api_key: str | None, rest_endpoint: str | None, request_timeout: float
) -> Iterator[BrazeCDIClient]:
    key, endpoint = _configuration(api_key, rest_endpoint)
    with BrazeCDIClient(key, endpoint, request_timeout=request_timeout) as client:
        yield client
