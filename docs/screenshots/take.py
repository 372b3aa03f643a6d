"""Take the screenshots of Dagster's and Prefect's UIs that the docs show, from a fresh clone.

    uv run python docs/screenshots/take.py

It starts ``braze-cdi fake``, materializes the ``braze`` assets of ``examples/dagster_defs.py``
and runs ``examples/prefect_flow.py`` against it, each orchestrator with a temporary home and its
own server on a free loopback port, then has headless Chromium capture a page of each UI into
``docs/images/``: ``dagster-asset.png`` (the ``braze/users`` asset: its latest materialization's
metadata and check results) and ``prefect-artifact.png`` (the table artifact of the purchases
sync). Everything it started is stopped before it exits.

It needs Chromium at ``/usr/bin/chromium`` or on ``PATH``; on Debian: ``apt-get install
chromium``. Rerun it when Dagster's or Prefect's UI changes, or what our integrations record
does, and commit the new images. It is not part of CI or of the test suite: it takes a minute,
and the pictures are for people to look at.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
BIN = Path(sys.executable).parent  # the environment `uv run` runs in: braze-cdi, dagster, prefect
# The fake's lines `  <integration id>  <name>  each sync takes ...`.
INTEGRATION_LINE = re.compile(r"^\s+([0-9a-f-]{36})\s+(\w+)\s")


def main() -> int:
    """Start everything, take both screenshots, stop everything; print how long it took."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 1
    started = time.monotonic()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="braze-cdi-shots-")))
        braze_env, integrations = stack.enter_context(fake_braze(scratch))
        env = {**os.environ, **braze_env}

        dagster_home = scratch / "dagster"
        dagster_home.mkdir()
        # No telemetry, and no "Join the community" dialog over the page.
        (dagster_home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
        )
        dagster_env = {**env, "DAGSTER_HOME": str(dagster_home)}
        dagster_port, prefect_port = free_port(), free_port()
        prefect_api = f"http://127.0.0.1:{prefect_port}/api"
        prefect_env = {
            **env,
            "PREFECT_HOME": str(scratch / "prefect"),
            "PREFECT_API_URL": prefect_api,
            "PREFECT_UI_API_URL": prefect_api,  # else the UI calls port 4200
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        # Both servers start while the assets materialize.
        stack.enter_context(
            serving(
                [
                    "dagster-webserver",
                    *("-f", "examples/dagster_defs.py", "-h", "127.0.0.1"),
                    *("-p", str(dagster_port)),
                ],
                dagster_env,
                scratch / "dagster-webserver.log",
            )
        )
        stack.enter_context(
            serving(
                ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                prefect_env,
                scratch / "prefect-server.log",
            )
        )

        step("Materializing the braze assets (their checks run with them)")
        run(
            [
                *("dagster", "asset", "materialize"),
                *("-f", "examples/dagster_defs.py", "--select", "group:braze"),
            ],
            dagster_env,
            scratch / "dagster-materialize.log",
        )
        dagster_ui = f"http://127.0.0.1:{dagster_port}"
        wait_for(f"{dagster_ui}/server_info", scratch / "dagster-webserver.log")
        screenshot(
            chromium,
            f"{dagster_ui}/assets/braze/users",
            IMAGES / "dagster-asset.png",
            window="1400,1000",
        )

        step("Running examples/prefect_flow.py")
        wait_for(f"{prefect_api}/health", scratch / "prefect-server.log")
        run(
            [
                "python",
                "examples/prefect_flow.py",
                *(integrations["users"], integrations["purchases"]),
                *("--poll-interval", "0.5"),
            ],
            prefect_env,
            scratch / "prefect-flow.log",
        )
        artifact_id = latest_artifact(prefect_api, f"braze-cdi-sync-{integrations['purchases']}")
        screenshot(
            chromium,
            f"http://127.0.0.1:{prefect_port}/artifacts/artifact/{artifact_id}",
            IMAGES / "prefect-artifact.png",
            window="1400,640",  # the page is a one-row table: no need for the blank below
        )
        step("Stopping the servers")
    print(f"Done in {time.monotonic() - started:.0f} s: {IMAGES.relative_to(ROOT)}/")
    return 0


def step(message: str) -> None:
    print(f"{message}…", flush=True)


@contextmanager
def fake_braze(scratch: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """``braze-cdi fake``: the two variables it prints, and its integrations' ids by name."""
    step("Starting braze-cdi fake")
    with serving(["braze-cdi", "fake"], dict(os.environ), None) as fake:
        assert fake.stdout is not None
        env: dict[str, str] = {}
        integrations: dict[str, str] = {}
        for line in fake.stdout:
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
            elif match := INTEGRATION_LINE.match(line):
                integrations[match[2]] = match[1]
            elif line.startswith("Press Ctrl-C"):
                break
        if set(env) != {"BRAZE_REST_ENDPOINT", "BRAZE_API_KEY"}:
            raise RuntimeError(f"braze-cdi fake printed no exports (exit code {fake.poll()})")
        yield env, integrations


@contextmanager
def serving(
    command: list[str], env: dict[str, str], log: Path | None
) -> Iterator[subprocess.Popen[str]]:
    """Run a server in its own process group, and stop the group (its workers too) at the end.

    With no log, its output is a pipe the caller reads.
    """
    with ExitStack() as stack:
        output = stack.enter_context(log.open("w")) if log else subprocess.PIPE
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there ten seconds later."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def run(command: list[str], env: dict[str, str], log: Path) -> None:
    """Run a command to its end, its output in the log; show the log if it fails."""
    with log.open("w") as output:
        result = subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        sys.stderr.write(log.read_text()[-5000:])
        raise RuntimeError(f"{shlex.join(command)} exited with {result.returncode}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, log: Path, timeout: float = 120) -> None:
    """Wait until the URL answers 200; the server's log shows why if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.stderr.write(log.read_text()[-5000:])
            raise RuntimeError(f"{url} did not answer in {timeout:g} s")
        time.sleep(0.5)


def latest_artifact(prefect_api: str, key: str) -> str:
    """The id of the newest artifact with this key, from the Prefect API."""
    request = urllib.request.Request(
        f"{prefect_api}/artifacts/filter",
        data=json.dumps(
            {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        [artifact] = json.load(response)
    return str(artifact["id"])


def screenshot(chromium: str, url: str, path: Path, window: str) -> None:
    """Capture the page once its scripts have had their requests answered."""
    step(f"Capturing {url}")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run(
            [
                chromium,
                # The flags Chromium needs here: no sandbox as root, no GPU, and none of its
                # own calls to Google's hosts, which a closed network refuses.
                *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"),
                *("--no-first-run", "--disable-background-networking"),
                *("--disable-component-update", "--disable-sync", "--hide-scrollbars"),
                f"--user-data-dir={profile}",
                f"--window-size={window}",
                # Virtual time runs only while no request is pending, so the single-page apps
                # get their data before the capture.
                "--virtual-time-budget=15000",
                f"--screenshot={path}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    if not path.exists() or path.stat().st_size < 20_000:
        raise RuntimeError(f"{path} looks empty: open {url} and see what the page shows")


if __name__ == "__main__":
    sys.exit(main())
