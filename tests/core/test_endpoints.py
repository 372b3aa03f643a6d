"""The three CDI endpoints, read through both clients over loopback HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from braze_cdi import (
    BrazeCDIClient,
    BrazeConfigError,
    Integration,
    JobStatus,
    SyncJob,
    __version__,
)
from braze_cdi.testing import FakeBraze

from .conftest import Api


def test_trigger_sync_starts_one_job(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration()
    assert api.call("trigger_sync", integration.integration_id) is None
    assert integration.triggered_jobs == 1
    assert fake.count("trigger", status=202) == 1


def test_list_integrations_follows_every_page(api: Api, fake: FakeBraze) -> None:
    added = [fake.add_integration(name=f"integration {n}") for n in range(27)]
    listed = api.items("list_integrations")
    assert [i.integration_id for i in listed] == [i.integration_id for i in added]
    assert all(isinstance(i, Integration) for i in listed)
    assert fake.count("list") == 3  # 10 + 10 + 7


def test_list_sync_jobs_follows_every_page(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration(history=25)
    jobs = api.items("list_sync_jobs", integration.integration_id)
    assert len(jobs) == 25
    assert len({job.sync_start_time for job in jobs}) == 25
    assert fake.count("status") == 3


def test_pages_are_fetched_only_as_they_are_used(fake: FakeBraze, url: str) -> None:
    for _ in range(35):
        fake.add_integration()
    with BrazeCDIClient(fake.api_key, url) as client:
        listing = client.list_integrations()
        assert fake.count("list") == 0
        first = [next(listing) for _ in range(10)]
        assert fake.count("list") == 1
        next(listing)
        assert fake.count("list") == 2
    assert len(first) == 10


def test_models_carry_braze_fields_as_typed_values(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration(name="users", history=1, history_duration=60.0)
    [listed] = api.items("list_integrations")
    assert listed.integration_name == "users"
    assert listed.last_job_status == "success"
    assert listed.last_job_start_time is not None and listed.last_job_start_time.tzinfo is not None
    [job] = api.items("list_sync_jobs", integration.integration_id)
    assert job.job_status is JobStatus.SUCCESS
    assert job.rows_synced == 1000 and job.rows_failed_with_errors == 0
    assert job.duration is not None and job.duration.total_seconds() == 60


@pytest.mark.parametrize("order", ["newest_first", "oldest_first", "shuffled"])
def test_latest_sync_job_goes_by_start_time_not_position(api: Api, order: str) -> None:
    fake = FakeBraze(order=order)  # type: ignore[arg-type]
    integration = fake.add_integration(history=23)
    newest = max(job.start for job in integration.jobs)
    with fake.serve() as url:
        latest = Api(api.mode, url, fake.api_key).call(
            "latest_sync_job", integration.integration_id
        )
    assert abs(latest.sync_start_time.timestamp() - newest) < 0.001
    # Newest-first lists are read one page deep; other orders to the end.
    assert fake.count("status") == (1 if order == "newest_first" else 3)


def test_latest_sync_job_is_none_without_jobs(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration()
    assert api.call("latest_sync_job", integration.integration_id) is None


def test_requests_carry_user_agent_key_and_quote_the_id(fake: FakeBraze) -> None:
    seen = []

    class Recording(FakeBraze):
        def reply(self, request):  # type: ignore[no-untyped-def]
            seen.append(request)
            return super().reply(request)

    recording = Recording(api_key=fake.api_key)
    recording.add_integration("odd:id@1")
    with recording.serve() as url, BrazeCDIClient(recording.api_key, url) as client:
        client.trigger_sync("odd:id@1")
    assert seen[0].headers["user-agent"] == f"braze-cdi/{__version__}"
    assert seen[0].headers["authorization"] == f"Bearer {recording.api_key}"
    assert seen[0].url.raw_path == b"/cdi/integrations/odd%3Aid%401/sync"


def test_unknown_fields_and_statuses_are_kept() -> None:
    job = SyncJob.model_validate(
        {"job_status": "queued", "sync_start_time": "2026-01-01T00:00:00", "new": 1}
    )
    assert job.job_status == "queued" and not job.finished
    assert job.sync_start_time == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert job.model_extra == {"new": 1}


@pytest.mark.parametrize(("order", "pages_read"), [("newest_first", 2), ("oldest_first", 5)])
def test_list_sync_jobs_since_reads_only_as_far_as_needed(
    api: Api, order: str, pages_read: int
) -> None:
    fake = FakeBraze(order=order)  # type: ignore[arg-type]
    integration = fake.add_integration(history=45)  # 5 pages, an hour apart
    with fake.serve() as url:
        reader = Api(api.mode, url, fake.api_key)
        every = reader.items("list_sync_jobs", integration.integration_id)
        since = sorted(job.sync_start_time for job in every)[-12]
        fake.requests.clear()
        recent = reader.items("list_sync_jobs", integration.integration_id, since=since)
    assert len(recent) == 12
    assert all(job.sync_start_time >= since for job in recent)
    assert fake.count("status") == pages_read


def test_list_sync_jobs_since_needs_an_aware_datetime(fake: FakeBraze, url: str) -> None:
    with BrazeCDIClient(fake.api_key, url) as client, pytest.raises(BrazeConfigError):
        client.list_sync_jobs("abc", since=datetime(2026, 1, 1))
    assert fake.requests == []
