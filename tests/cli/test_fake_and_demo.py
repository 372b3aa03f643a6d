"""`fake` serves a workspace the other commands can use; `demo` tells the whole story."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from braze_cdi.cli.sample import SAMPLES

from .conftest import BRAZE_CDI, Run, command_environment

SAMPLE_NAMES = ["users", "purchases", "events", "catalog"]
ROOT = Path(__file__).resolve().parents[2]
STABLE_KEY = "fake-a-key-that-stays-0123456789"


@contextmanager
def _fake(*args: str, env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """`braze-cdi fake ARGS` until the block ends (then Ctrl-C): the exports it printed."""
    server = subprocess.Popen(
        [str(BRAZE_CDI), "fake", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_environment(**(env or {})),
    )
    try:
        assert server.stdout is not None
        exports: dict[str, str] = {}
        while len(exports) < 2:
            line = server.stdout.readline()
            assert line, f"the fake ended early: {server.stderr.read() if server.stderr else ''}"
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                exports[name] = value
        yield exports
        server.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_fake_prints_what_to_export_and_serves_until_ctrl_c(braze_cdi: Run) -> None:
    with _fake("--port", "0") as exports:
        ran = braze_cdi("integrations", "--json", env=exports)

    assert set(exports) == {"BRAZE_REST_ENDPOINT", "BRAZE_API_KEY"}
    assert exports["BRAZE_REST_ENDPOINT"].startswith("http://127.0.0.1:")
    assert ran.code == 0
    assert [item["integration_name"] for item in ran.json()] == SAMPLE_NAMES


def test_fake_keeps_the_api_key_it_is_given_across_restarts(braze_cdi: Run) -> None:
    # What a user saved against the fake (a Prefect block, a .env file) works after a restart.
    port = str(_free_port())
    with _fake("--port", port, "--api-key", STABLE_KEY) as first:
        ran_first = braze_cdi("integrations", "--json", env=first)
    with _fake("--port", port, env={"BRAZE_FAKE_API_KEY": STABLE_KEY}) as second:
        ran_second = braze_cdi("integrations", "--json", env=first)  # the first run's exports

    assert (
        first
        == second
        == {
            "BRAZE_REST_ENDPOINT": f"http://127.0.0.1:{port}",
            "BRAZE_API_KEY": STABLE_KEY,
        }
    )
    assert ran_first.code == ran_second.code == 0
    assert ran_first.json() != [] and len(ran_second.json()) == len(SAMPLE_NAMES)


def test_fake_refuses_a_key_no_client_could_send(braze_cdi: Run) -> None:
    ran = braze_cdi("fake", "--api-key", "tiny-key-123", configured=False, timeout=30)

    assert ran.code == 2
    [line] = ran.error_lines
    assert "shorter than 16 characters" in line


def test_every_integration_id_in_the_docs_is_one_the_fake_serves() -> None:
    served = {sample.integration_id for sample in SAMPLES}
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").glob("*.py")]
    uuid = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
    used = {
        (page.name, found)
        for page in pages
        for line in page.read_text().splitlines()
        if "block_document_id" not in line  # a Prefect block's id, not an integration's
        for found in uuid.findall(line)
    }

    assert used, "the pages use no integration id?"
    assert {(page, found) for page, found in used if found not in served} == set()


def test_the_quickstart_python_example_runs_against_the_fake_as_written() -> None:
    page = (ROOT / "docs" / "quickstart.md").read_text()
    [example] = [
        block
        for block in re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
        if "from_env()" in block
    ]

    with _fake() as exports:
        ran = subprocess.run(
            [sys.executable, "-c", example],
            capture_output=True,
            text=True,
            env=command_environment(**exports),
            timeout=120,
            check=False,
        )

    assert ran.returncode == 0, ran.stderr
    assert "5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11 users" in ran.stdout  # listed by id and name
    assert ran.stdout.splitlines()[-1] == "success 12480 0"  # the users sync, as the fake runs it


def test_demo_tells_the_story_and_exits_0_within_a_minute(braze_cdi: Run) -> None:
    began = time.monotonic()
    ran = braze_cdi("demo", configured=False, timeout=60)
    took = time.monotonic() - began

    assert ran.code == 0, ran.stdout + ran.stderr
    assert took < 60
    out = ran.stdout
    assert "already syncing" in out  # catalog's scheduled job was found running
    assert "Triggered a sync of integration catalog" in out  # ... and then it triggered
    assert "ended error" in out  # events failed
    assert "Not as scripted" not in out
    for name in SAMPLE_NAMES:
        assert name in out
