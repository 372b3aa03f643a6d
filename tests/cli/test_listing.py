"""`integrations` and `jobs`: tables for people, JSON for scripts."""

from __future__ import annotations

from braze_cdi import Integration, SyncJob
from braze_cdi.testing import FakeBraze

from .conftest import Run


def test_integrations_json_lists_every_integration_across_pages(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    ids = [fake.add_integration(name=f"table-{n}").integration_id for n in range(12)]

    ran = braze_cdi("integrations", "--json")

    assert ran.code == 0
    listed = [Integration.model_validate(item) for item in ran.json()]
    assert [integration.integration_id for integration in listed] == ids
    assert fake.count("list") == 2  # ten per page, as Braze pages


def test_integrations_table_shows_ids_and_names(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(name="users", history=1)

    ran = braze_cdi("integrations")

    assert ran.code == 0
    assert integration.integration_id in ran.stdout
    assert "users" in ran.stdout
    assert "success" in ran.stdout  # its last job's status


def test_jobs_json_shows_the_first_jobs_listed_newest_first(braze_cdi: Run) -> None:
    fake_oldest_first = FakeBraze(order="oldest_first")
    integration = fake_oldest_first.add_integration(history=5)
    with fake_oldest_first.serve() as other_url:
        ran = braze_cdi(
            "jobs",
            integration.integration_id,
            "--limit",
            "3",
            "--json",
            env={"BRAZE_API_KEY": fake_oldest_first.api_key, "BRAZE_REST_ENDPOINT": other_url},
        )

    assert ran.code == 0
    jobs = [SyncJob.model_validate(item) for item in ran.json()]
    starts = [job.sync_start_time for job in jobs if job.sync_start_time is not None]
    assert len(starts) == 3
    assert starts == sorted(starts, reverse=True)
