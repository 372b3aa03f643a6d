"""``braze-cdi doctor``: the client's ``diagnose``, one line per finding and a fix under each
problem, or the ``Diagnosis`` as JSON.

The command registers itself on ``app`` when ``app`` imports this module; like the others, it
imports the core when it runs.
"""

# ruff: noqa: PLC0415  # the imports inside the functions keep the core out of `--help`

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

from .app import (
    ApiKey,
    AsJson,
    Debug,
    RequestTimeout,
    RestEndpoint,
    _client,
    _reporting,
    _set_up,
    app,
)
from .exit_codes import ExitCode

if TYPE_CHECKING:
    from rich.table import Table

    from .. import Diagnosis
    from .._doctor import Verdict

__all__ = ["INSTANCES_VARIABLE", "diagnosis_table", "doctor"]

INSTANCES_VARIABLE = "BRAZE_CDI_DOCTOR_INSTANCES"
"""For tests only: a JSON object of instance names to REST endpoints that ``--find-instance``
tries instead of Braze's (``{"US-03": "http://127.0.0.1:8123"}``)."""

_EXIT_CODES = """\
**Exit codes**

* 0: nothing is wrong.
* 1: something is; each problem is printed with its fix.
* 2: bad usage or configuration; nothing was sent to Braze."""

_MARKS: dict[Verdict, tuple[str, str]] = {
    "ok": ("✔", "green"),
    "problem": ("✖", "bold red"),
    "not_checked": ("○", "yellow"),
}
_FIX_LABELS: dict[Verdict, str] = {"problem": "Fix: ", "not_checked": "To find out: "}


@app.command(epilog=_EXIT_CODES)
def doctor(
    *,
    find_instance: Annotated[
        bool,
        typer.Option(
            "--find-instance",
            help="When the endpoint refuses the key (401), send the key to Braze's other "
            "instances in turn and name the one that accepts it. This sends the key to every "
            "Braze instance tried.",
        ),
    ] = False,
    api_key: ApiKey = None,
    rest_endpoint: RestEndpoint = None,
    request_timeout: RequestTimeout = 30.0,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Check the key, the endpoint, the permissions, the rate windows, the clock and every
    integration, and say how to fix each problem.

    It only reads (the integration list and one integration's jobs) and never triggers a sync,
    so the cdi.integration_sync permission is reported as not checked. Exits 1 when something
    is wrong.
    """
    from rich.text import Text

    from .output import stdout_console

    output = _set_up(as_json, debug)
    with _reporting(output), _client(api_key, rest_endpoint, request_timeout) as client:
        instances = _instances_for_tests() if find_instance else None
        diagnosis = client.diagnose(find_instance=find_instance, instances=instances)
    if as_json:
        output.data(diagnosis.model_dump(mode="json"))
    else:
        output.show(diagnosis_table(diagnosis))
        problems = len(diagnosis.problems)
        stdout_console().print(
            Text("Nothing is wrong.", style="green")
            if diagnosis.ok
            else Text(f"{problems} problem{'s' if problems > 1 else ''} found.", style="bold red")
        )
    raise typer.Exit(ExitCode.OK if diagnosis.ok else ExitCode.FAILED)


def diagnosis_table(diagnosis: Diagnosis) -> Table:
    """One row per finding: its mark, its check, what was found and what to do."""
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for finding in diagnosis.findings:
        mark, style = _MARKS[finding.verdict]
        # Plain text, never markup: summaries quote Braze's names and answers.
        said = Text(finding.summary)
        if finding.fix and finding.verdict in _FIX_LABELS:
            said.append("\n")
            said.append(_FIX_LABELS[finding.verdict], style=style)
            said.append(finding.fix)
        table.add_row(Text(mark, style=style), Text(finding.check.replace("_", " ")), said)
    return table


def _instances_for_tests() -> dict[str, str] | None:
    """The instance table of ``INSTANCES_VARIABLE``, or None (Braze's) when it is not set."""
    value = os.environ.get(INSTANCES_VARIABLE)
    if not value:
        return None
    try:
        table = json.loads(value)
    except ValueError:
        table = None
    if not (isinstance(table, dict) and all(isinstance(v, str) for v in table.values())):
        from .. import BrazeConfigError

        raise BrazeConfigError(
            f"{INSTANCES_VARIABLE} must be a JSON object of instance names to REST endpoints."
        )
    return table
