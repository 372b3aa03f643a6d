"""`fake` serves a workspace the other commands can use; `demo` tells the whole story."""

from __future__ import annotations

import signal
import subprocess
import time

from .conftest import BRAZE_CDI, Run, command_environment

SAMPLE_NAMES = ["users", "purchases", "events", "catalog"]


def test_fake_prints_what_to_export_and_serves_until_ctrl_c(braze_cdi: Run) -> None:
    server = subprocess.Popen(
        [str(BRAZE_CDI), "fake", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_environment(),
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

        ran = braze_cdi("integrations", "--json", env=exports)
        server.send_signal(signal.SIGINT)  # Ctrl-C
        stopped = server.wait(timeout=10)
    finally:
        server.kill()

    assert stopped == 0
    assert set(exports) == {"BRAZE_REST_ENDPOINT", "BRAZE_API_KEY"}
    assert exports["BRAZE_REST_ENDPOINT"].startswith("http://127.0.0.1:")
    assert ran.code == 0
    assert [item["integration_name"] for item in ran.json()] == SAMPLE_NAMES


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
