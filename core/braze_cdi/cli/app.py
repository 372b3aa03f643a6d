"""The ``braze-cdi`` commands: options in, the core's calls, tables or JSON out.

Every command reports a failure as one line on standard error (``--debug`` adds the traceback)
and exits with the code ``exit_codes`` documents; the API key is never printed.

Each command imports the core (and the modules of its own output) when it runs: ``--help``
loads typer and nothing of the core but its version, and no command pays for another's.
"""

# ruff: noqa: PLC0415  # the imports inside the commands are the point (see above)

from __future__ import annotations

import logging
import shlex
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from typer.core import TyperGroup

from .._version import __version__
from .exit_codes import EXIT_CODES_HELP, ExitCode, exit_code_for

if TYPE_CHECKING:
    from .. import BrazeCDIClient, Integration, SyncHandle
    from ..testing import FakeBraze
    from .output import Output

__all__ = ["app", "main"]

_CONFIGURATION_HELP = (
    "Configuration: BRAZE_API_KEY (a REST API key with the cdi.integration_list, "
    "cdi.integration_job_status and cdi.integration_sync permissions) and BRAZE_REST_ENDPOINT "
    "(your instance, such as US-01 or https://rest.iad-01.braze.com), or --api-key and "
    "--rest-endpoint. `braze-cdi demo` and `braze-cdi fake` need neither."
)


class _Group(TyperGroup):
    """The commands, each flag shown in ``--help`` as a flag (``--wait``, not ``--wait <bool>``,
    which reads as if it took a value: ``--wait true`` would pass ``true`` as an id)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _as_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _as_flags(command.get_params(ctx))
        return command


def _as_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # typer shows the metavar, when set, instead of the type
    return params


app = typer.Typer(
    cls=_Group,
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
    """List the workspace's CDI integrations, with the page of each in the Braze dashboard."""
    from .output import dashboard_links, integrations_table

    output = _set_up(as_json, debug)
    with _reporting(output), _client(api_key, rest_endpoint, request_timeout) as client:
        found = list(client.list_integrations())
        links = {item.integration_id: _listed_dashboard_url(client, item) for item in found}
    if as_json:
        output.data(
            [
                {**item.model_dump(mode="json"), "dashboard_url": links[item.integration_id]}
                for item in found
            ]
        )
    else:
        names = {item.integration_id: item.integration_name or "" for item in found}
        output.show(integrations_table(found), dashboard_links(links, names))


def _listed_dashboard_url(client: BrazeCDIClient, integration: Integration) -> str | None:
    from .. import BrazeConfigError

    try:
        return client.dashboard_url(integration.integration_id)
    except BrazeConfigError:  # an id Braze lists that no call could take: no page to show
        return None


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
    """List an integration's recent sync jobs, newest first, and its page in the Braze dashboard.

    Reads the first LIMIT jobs Braze lists and sorts them by start time (Braze does not document
    the order of its list).
    """
    from .output import dashboard_links, jobs_table

    output = _set_up(as_json, debug)
    with _reporting(output), _client(api_key, rest_endpoint, request_timeout) as client:
        found = list(islice(client.list_sync_jobs(integration_id), limit))
        link = client.dashboard_url(integration_id)
    found.sort(key=lambda job: job.sync_start_time or _BEGINNING, reverse=True)
    if as_json:
        output.data([{**job.model_dump(mode="json"), "dashboard_url": link} for job in found])
    else:
        output.show(jobs_table(found), dashboard_links({integration_id: link}))


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
        Literal["wait", "attach", "fail"] | None,
        typer.Option(
            help="When a job is running already: wait for it to end and then trigger, attach to "
            "it as this sync, or fail (exit 1). Without --wait the default is fail: a trigger "
            "that does not wait never waits for someone else's job either.",
            show_default="wait with --wait, else fail",
        ),
    ] = None,
    fail_on_partial: Annotated[
        bool,
        typer.Option("--fail-on-partial", help="With --wait: exit 1 when a sync ends partial."),
    ] = False,
    run_key: Annotated[
        str | None,
        typer.Option(
            "--run-key",
            metavar="KEY",
            help="Make retries of one run safe: the trigger's record is kept in a local state "
            "file (BRAZE_CDI_STATE_DIR) before it is sent, and a later run with the same key "
            "adopts the sync it started instead of triggering again.",
        ),
    ] = None,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Trigger a sync of each integration; with --wait, wait for them and print the results.

    Without --wait it prints what each trigger did (triggered, or attached to a running job),
    and a job already running is not triggered (exit 1) unless --if-running says otherwise.
    Several ids run concurrently; the exit code is the most serious of their outcomes. A wait
    that runs out prints the `braze-cdi wait` command that resumes it.
    """
    import asyncio

    from .. import AsyncBrazeCDIClient, BrazeConfigError, SyncAlreadyRunning, check_integration_id
    from .run_records import RunRecords
    from .syncing import Syncs, check_ids

    output = _set_up(as_json, debug)
    with _reporting(output):
        max_wait = _renamed_max_wait(context, max_wait, timeout)
        for integration_id in integration_ids:
            check_integration_id(integration_id)
        check_ids(integration_ids)
        if fail_on_partial and not wait:
            raise BrazeConfigError("--fail-on-partial needs --wait.")
        key, endpoint = _configuration(api_key, rest_endpoint)
        running = if_running or ("wait" if wait else "fail")
        syncs = Syncs(integration_ids, records=None if run_key is None else RunRecords(run_key))

        async def run() -> None:
            async with AsyncBrazeCDIClient(
                key, endpoint, request_timeout=request_timeout
            ) as client:
                if wait:
                    await syncs.run(
                        client,
                        lambda integration_id, on_event: syncs.sync_and_wait(
                            client,
                            integration_id,
                            on_event,
                            max_wait=max_wait,
                            poll_interval=poll_interval,
                            if_running=running,
                            fail_on_partial=fail_on_partial,
                        ),
                        busy="syncing",
                    )
                else:
                    await syncs.run(
                        client,
                        lambda integration_id, on_event: syncs.start(
                            client,
                            integration_id,
                            on_event,
                            max_wait=max_wait,
                            poll_interval=poll_interval,
                            if_running=running,
                        ),
                        busy="triggering",
                    )

        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            syncs.interrupted(triggering=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    if not wait and if_running is None:
        for outcome in syncs.outcomes:
            if isinstance(outcome, SyncAlreadyRunning):
                outcome.hint = (
                    "Not triggered: Braze runs one job at a time. Add --wait to wait for it to "
                    "end and trigger then, or take it as this sync with --if-running attach."
                )
    raise typer.Exit(syncs.report(output, table="results" if wait else "handles"))


@app.command(epilog=EXIT_CODES_HELP)
def wait(
    integration_id: Annotated[
        str, typer.Argument(metavar="ID", help="The integration whose sync to wait for.")
    ],
    *,
    handle: Annotated[
        str | None,
        typer.Option(
            "--handle",
            metavar="JSON",
            help="The sync's handle, as a timed-out `sync --wait` printed it: JSON, @FILE to "
            "read it from a file, or - for standard input.",
        ),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(
            "--after",
            metavar="TIME",
            help="Wait for the first job that started at or after TIME (ISO 8601; UTC when "
            "it has no offset), such as the time a trigger was sent.",
        ),
    ] = None,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait",
            callback=_positive,
            help="Seconds to wait; then exit 3 (the sync goes on: Braze has no cancel call).",
        ),
    ] = 3600.0,
    poll_interval: Annotated[
        float,
        typer.Option(
            callback=_positive,
            help="Seconds between two status checks at first (it slows "
            "gently to 60 s while a job runs).",
        ),
    ] = 10.0,
    fail_on_partial: Annotated[
        bool,
        typer.Option("--fail-on-partial", help="Exit 1 when the sync ends partial."),
    ] = False,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Wait for a sync that is already under way, and print how it ended: resume a wait.

    With --handle, the job of that handle (what a timed-out `sync --wait` prints); with
    --after, the first job that started at or after that time. With neither, the running job,
    or when none runs the newest job, whose ending is printed at once. Nothing is triggered.
    """
    import asyncio

    from .. import AsyncBrazeCDIClient, BrazeConfigError, check_integration_id
    from .syncing import Syncs, after_time, check_ids, read_handle

    output = _set_up(as_json, debug)
    with _reporting(output):
        check_integration_id(integration_id)
        check_ids([integration_id])
        if handle is not None and after is not None:
            raise BrazeConfigError("Give --handle or --after, not both.")
        given: SyncHandle | None = None
        if handle is not None:
            given = read_handle(handle, integration_id)
        since = None if after is None else after_time(after)
        key, endpoint = _configuration(api_key, rest_endpoint)
        syncs = Syncs([integration_id])

        async def run() -> None:
            async with AsyncBrazeCDIClient(
                key, endpoint, request_timeout=request_timeout
            ) as client:
                await syncs.run(
                    client,
                    lambda integration_id, on_event: syncs.wait(
                        client,
                        integration_id,
                        on_event,
                        handle=given,
                        after=since,
                        max_wait=max_wait,
                        poll_interval=poll_interval,
                        fail_on_partial=fail_on_partial,
                    ),
                    busy="waiting",
                )

        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            syncs.interrupted(triggering=False)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    raise typer.Exit(syncs.report(output, table="results"))


@app.command()
def fake(
    *,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on; 0 picks a free one.")
    ] = 0,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="BRAZE_FAKE_API_KEY",
            show_envvar=True,
            show_default="a new one each start",
            help="The made-up key the fake accepts (16 characters or more). With --port, what "
            "is saved against the fake (a Prefect block, a .env file) works after a restart.",
        ),
    ] = None,
) -> None:
    """Serve a simulated Braze workspace on 127.0.0.1 until Ctrl-C, to try the commands on.

    It prints the two environment variables to set in another shell. Its API key is made up
    (or the one --api-key gives) and opens nothing but this server.
    """
    from pydantic import SecretStr

    from .. import BrazeConfigError
    from .._secrets import secret_api_key
    from .output import Output, stderr_console
    from .sample import sample_workspace

    output = Output(as_json=False)
    with _reporting(output):
        if api_key is not None:
            secret_api_key(SecretStr(api_key))  # a key the client would refuse is no use
        workspace = sample_workspace(api_key)
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
    from rich.markup import escape

    from .output import stdout_console
    from .sample import SAMPLES

    console = stdout_console()
    ids = list(workspace.integrations)
    console.print(
        f"[bold]FakeBraze[/], a simulated Braze workspace, is serving on {url}\n"
        "Its API key is made up and opens nothing but this server. In another shell:\n\n"
        f"  export BRAZE_REST_ENDPOINT={url}\n"
        f"  export BRAZE_API_KEY={escape(shlex.quote(workspace.api_key))}\n"
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
    from .demo import run_demo
    from .output import stdout_console

    output = _set_up(False, debug)
    with _reporting(output):
        code = run_demo(stdout_console())
    raise typer.Exit(code)


# --- shared by the commands ---------------------------------------------------------------


def _renamed_max_wait(context: typer.Context, max_wait: float, timeout: float | None) -> float:
    """``--max-wait``, or the deprecated ``--timeout`` with a one-line notice on standard error;
    both given is a configuration error (exit 2), before any request."""
    from rich.text import Text

    from .. import accept_renamed
    from .output import stderr_console

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
    from .output import Output, stderr_console

    core_log = logging.getLogger("braze_cdi")
    if debug:
        from rich.logging import RichHandler

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
    from .. import BrazeConfigError

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
    from .. import BrazeCDIClient

    key, endpoint = _configuration(api_key, rest_endpoint)
    with BrazeCDIClient(key, endpoint, request_timeout=request_timeout) as client:
        yield client


# Last: the commands of their own modules register themselves on `app`, using what is above.
from . import doctor  # noqa: E402, F401
