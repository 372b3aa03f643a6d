"""A Prefect flow that refreshes Braze through Cloud Data Ingestion, then reports the result.

Against your Braze workspace (the key needs the cdi.* permissions):

    BRAZE_API_KEY=... BRAZE_REST_ENDPOINT=US-01 uv run python examples/prefect_flow.py ID [ID ...]

Against a fake server started with ``braze-cdi fake``, set the two variables to the key and URL
it prints, pass the ids of its integrations, and poll more often than Braze needs:
``--poll-interval 0.5``.

With neither variable set, the example starts its own FakeBraze on loopback, so it runs out of
the box:

    uv run python examples/prefect_flow.py

The flow talks to the Prefect API of your profile (``PREFECT_API_URL``), or to a temporary local
server Prefect starts when none is configured.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack

from prefect import flow, get_run_logger

from braze_cdi import SyncResult
from braze_cdi.testing import FakeBraze
from prefect_braze_cdi import BrazeCDICredentials, trigger_sync_and_wait_for_completion


@flow(name="Refresh Braze")
def refresh_braze(
    credentials: BrazeCDICredentials,
    integration_ids: list[str],
    poll_interval_seconds: float = 10,
) -> list[SyncResult]:
    """Sync each integration in turn (each one is a subflow run with its own artifact)."""
    results = [
        trigger_sync_and_wait_for_completion(
            credentials, integration_id, poll_interval_seconds=poll_interval_seconds
        )
        for integration_id in integration_ids
    ]
    rows = sum(result.job.rows_synced or 0 for result in results)
    get_run_logger().info("Braze is up to date: %d integrations, %d rows.", len(results), rows)
    return results


def main(argv: list[str]) -> int:
    """Run the flow against the workspace in the environment, or against a FakeBraze."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("integration_ids", nargs="*", metavar="ID")
    parser.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    key, endpoint = os.environ.get("BRAZE_API_KEY"), os.environ.get("BRAZE_REST_ENDPOINT")
    with ExitStack() as stack:
        if key or endpoint:
            if not (key and endpoint and args.integration_ids):
                print(
                    "Set both BRAZE_API_KEY and BRAZE_REST_ENDPOINT, and pass the integration "
                    "ids to sync.",
                    file=sys.stderr,
                )
                return 2
            credentials = BrazeCDICredentials(api_key=key, rest_endpoint=endpoint)
            integration_ids, poll = args.integration_ids, args.poll_interval
        else:
            fake = FakeBraze()
            integration_ids = [
                fake.add_integration(name=name, duration=0.5, rows_synced=rows).integration_id
                for name, rows in (("users", 1200), ("purchases", 800))
            ]
            url = stack.enter_context(fake.serve())
            print(f"No BRAZE_API_KEY set: syncing against a FakeBraze at {url}.")
            credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
            poll = 0.1  # the fake's jobs last half a second
        results = refresh_braze(credentials, integration_ids, poll_interval_seconds=poll)
    for result in results:
        row = result.record()
        print(
            f"{row['integration_id']}: {row['job_status']}, {row['rows_synced']} rows synced, "
            f"{row['rows_failed_with_errors']} failed, in {row['duration_seconds']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
