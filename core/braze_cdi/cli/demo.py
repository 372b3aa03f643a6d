"""``braze-cdi demo``: the product's story in a few seconds, against a simulated workspace.

Nothing here is pretend but Braze: ``FakeBraze`` serves the CDI endpoints on loopback HTTP and
the real ``AsyncBrazeCDIClient`` syncs four integrations at once, while the live lines show the
records the client logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from .._client import AsyncBrazeCDIClient
from .._errors import SyncFailed
from .._models import SyncResult
from .exit_codes import ExitCode
from .output import Outcome, results_table
from .progress import SyncBoard
from .sample import SAMPLES, sample_workspace

__all__ = ["run_demo"]

# Short polls, so the story moves; the real default is 10 s, slowing to 60 s.
_POLL_INTERVAL, _MAX_POLL_INTERVAL = 0.25, 1.0
_ALREADY_RUNNING = "catalog"
_RUNNING_FOR = 3.0  # seconds the scheduled job of `catalog` still runs when the demo starts

_CALL = 'await client.sync_and_wait(integration_id, if_running="wait")'


def run_demo(console: Console) -> ExitCode:
    """Run the demo, printing to ``console``; ``OK`` if every sync ended as the story says.

    Examples:
        >>> from rich.console import Console
        >>> run_demo(Console())  # doctest: +SKIP
        <ExitCode.OK: 0>
    """
    fake = sample_workspace()
    names = {i.integration_id: i.name for i in fake.integrations.values()}
    with fake.serve() as url:
        console.print(_intro(url))
        # Braze's own schedule started this one; the demo's trigger will find it running.
        [running] = [i for i, name in names.items() if name == _ALREADY_RUNNING]
        fake.start_job(running, duration=_RUNNING_FOR)
        outcomes, waited = asyncio.run(_sync_all(console, fake.api_key, url, names))
    console.print()
    console.print(results_table(list(names), outcomes, names, waited))
    surprises = _surprises(dict(zip(names.values(), outcomes, strict=True)))
    for surprise in surprises:
        console.print(f"[bold red]Not as scripted:[/] {escape(surprise)}")
    if surprises:
        return ExitCode.FAILED
    console.print(_OUTRO)
    return ExitCode.OK


async def _sync_all(
    console: Console, api_key: str, url: str, names: dict[str, str]
) -> tuple[Sequence[Outcome], dict[str, float]]:
    """Every outcome, and the seconds each sync took."""
    board = SyncBoard(console, names)
    async with AsyncBrazeCDIClient(api_key, url) as client:
        outcomes = await board.run(
            list(names),
            lambda integration_id, on_event: client.sync_and_wait(
                integration_id,
                if_running="wait",
                poll_interval=_POLL_INTERVAL,
                max_poll_interval=_MAX_POLL_INTERVAL,
                max_wait=60.0,
                on_event=on_event,
            ),
        )
    return outcomes, board.elapsed()


def _intro(url: str) -> str:
    stories = "\n".join(
        f"  [bold]{sample.name:<10}[/] {sample.story}"
        + (
            f", but it is [bold]already syncing[/] on Braze's own schedule ({_RUNNING_FOR:g} s "
            "to go): Braze refuses a second job while one runs"
            if sample.name == _ALREADY_RUNNING
            else ""
        )
        for sample in SAMPLES
    )
    return (
        "[bold]braze-cdi demo[/]: the real client against a simulated Braze workspace "
        "(no account needed)\n\n"
        f"FakeBraze serves Braze's Cloud Data Ingestion endpoints on {url}, and four "
        "integrations sync at once, each through\n\n"
        f"    [cyan]{escape(_CALL)}[/]\n\n"
        f"{stories}\n\n"
        "Each line shows what the client logs as its sync goes.\n"
    )


_OUTRO = """
What happened:
  • [bold]users[/] and [bold]purchases[/]: triggered, then found in Braze's job list (a \
trigger answers no job id) and polled until they ended. "partial" counts as done unless you \
ask for fail_on_partial=True (--fail-on-partial).
  • [bold]events[/]: its job ended "error", so sync_and_wait raised SyncFailed \
(`braze-cdi sync` exits 1).
  • [bold]catalog[/]: a scheduled job was running; if_running="wait" let it end, then \
triggered a sync of its own. "attach" adopts the running job instead; "fail" raises \
SyncAlreadyRunning.

Try it yourself: `braze-cdi fake` serves this workspace and prints the two environment \
variables to set; then run `braze-cdi integrations` and `braze-cdi sync ID --wait`."""


def _surprises(outcomes: dict[str, Outcome]) -> list[str]:
    """How the outcomes differ from the story the intro tells."""
    expected = {sample.name: sample.outcome for sample in SAMPLES}
    surprises = []
    for name, outcome in outcomes.items():
        if isinstance(outcome, SyncResult):
            status, triggered = str(outcome.job_status), outcome.triggered
        elif isinstance(outcome, SyncFailed):
            status = str(outcome.job.job_status)
            triggered = outcome.handle is not None and outcome.handle.triggered
        else:
            surprises.append(f"{name}: {outcome}")
            continue
        if status != expected[name] or not triggered:
            surprises.append(f"{name} ended {status} (triggered: {triggered}).")
    return surprises
