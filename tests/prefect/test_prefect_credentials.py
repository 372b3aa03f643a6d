"""The credentials block: Prefect's block standards, saving and loading, registration."""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import TYPE_CHECKING

import pytest
from prefect.blocks.core import Block
from prefect.client.schemas.actions import BlockDocumentUpdate
from prefect.plugins import load_prefect_collections
from prefect.testing.cli import invoke_and_assert
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import ValidationError

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeConfigError,
    RateLimit,
    RateLimits,
    RetryPolicy,
)
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import BrazeCDICredentials

if TYPE_CHECKING:
    from tests.prefect.conftest import PrefectRecords


class TestBlockStandards(BlockStandardTestSuite):
    """Prefect's own suite: description, documentation URL, described fields, code example."""

    @pytest.fixture
    def block(self) -> type[Block]:
        return BrazeCDICredentials

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pytest.skip("The block has no logo: the suite's image check downloads it.")


def test_saved_block_loads_by_name_and_reaches_braze(
    credentials: BrazeCDICredentials, integration: FakeIntegration, fake: FakeBraze
) -> None:
    credentials.save("braze-test-load", overwrite=True)

    loaded = BrazeCDICredentials.load("braze-test-load")
    with loaded.get_client() as client:
        names = [i.integration_name for i in client.list_integrations()]

    assert names == ["users"]
    assert isinstance(loaded.get_client(), BrazeCDIClient)
    assert loaded.api_key.get_secret_value() == fake.api_key
    assert loaded.retry == credentials.retry


def test_loaded_block_gives_a_working_async_client(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    credentials.save("braze-test-async", overwrite=True)

    async def latest_job_status() -> list[str | None]:
        loaded = await BrazeCDICredentials.aload("braze-test-async")
        client = loaded.get_async_client()
        assert isinstance(client, AsyncBrazeCDIClient)
        async with client:
            return [i.last_job_status async for i in client.list_integrations()]

    assert asyncio.run(latest_job_status()) == [None]


def test_saved_document_hides_the_key(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    credentials.save("braze-test-secret", overwrite=True)

    document = prefect_records.client.read_block_document_by_name(
        "braze-test-secret", block_type_slug="braze-cdi-credentials", include_secrets=False
    )

    assert fake.api_key not in document.model_dump_json()
    assert fake.api_key not in repr(credentials)


def test_block_type_registers_through_the_collection_entry_point(
    prefect_records: PrefectRecords,
) -> None:
    entry_points = importlib.metadata.entry_points(group="prefect.collections")
    assert "prefect_braze_cdi" in [entry_point.value for entry_point in entry_points]
    assert "prefect_braze_cdi" in load_prefect_collections()
    assert Block.get_block_class_from_key("braze-cdi-credentials") is BrazeCDICredentials

    invoke_and_assert(
        ["block", "register", "-m", "prefect_braze_cdi"],
        expected_output_contains="Braze CDI Credentials",
    )

    block_type = prefect_records.client.read_block_type_by_slug("braze-cdi-credentials")
    assert block_type.name == "Braze CDI Credentials"
    assert 'BrazeCDICredentials.load("BLOCK_NAME")' in (block_type.code_example or "")
    schema = prefect_records.client.get_most_recent_block_schema_for_block_type(block_type.id)
    assert schema is not None
    assert schema.fields["secret_fields"] == ["api_key"]


def test_instance_name_rest_endpoint_is_accepted_as_given() -> None:
    credentials = BrazeCDICredentials(api_key="my-rest-api-key-1234", rest_endpoint="EU-01")

    with credentials.get_client() as client:
        assert client.rest_endpoint == "https://rest.fra-01.braze.eu"
    assert credentials.rest_endpoint == "EU-01"


def test_unknown_instance_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match=r"'US-09' is not a Braze instance.*US-10"):
        BrazeCDICredentials(api_key="my-rest-api-key-1234", rest_endpoint="US-09")


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValidationError, match="Refusing plain http"):
        BrazeCDICredentials(
            api_key="my-rest-api-key-1234", rest_endpoint="http://rest.iad-01.braze.com"
        )


def test_unusable_key_is_refused_before_any_request_without_echoing_it() -> None:
    key = " secret-key-with-a-space"
    credentials = BrazeCDICredentials(api_key=key, rest_endpoint="US-01")

    with pytest.raises(BrazeConfigError, match="API key contains whitespace") as raised:
        credentials.get_client()

    assert key.strip() not in str(raised.value)
    assert key.strip() not in repr(credentials)


def test_request_timeout_and_retry_reach_the_client() -> None:
    retry = RetryPolicy(max_attempts=2, max_duration=10)
    credentials = BrazeCDICredentials(
        api_key="my-rest-api-key-1234", rest_endpoint="US-01", request_timeout=5, retry=retry
    )

    with credentials.get_client() as client:
        assert (client.request_timeout, client.retry) == (5.0, retry)


@pytest.mark.parametrize(
    "rate_limits", [RateLimits(trigger=RateLimit(40, 60.0), status=RateLimit(200, 60.0)), None]
)
def test_rate_limits_are_saved_and_reach_both_clients(
    credentials: BrazeCDICredentials, rate_limits: RateLimits | None
) -> None:
    # A workspace whose limits Braze raised, or budgets turned off.
    credentials.rate_limits = rate_limits
    credentials.save("braze-test-limits", overwrite=True)

    loaded = BrazeCDICredentials.load("braze-test-limits")

    assert loaded.rate_limits == rate_limits
    assert loaded.get_client().rate_limits == rate_limits
    assert loaded.get_async_client().rate_limits == rate_limits
    assert BrazeCDICredentials(
        api_key="my-rest-api-key-1234", rest_endpoint="US-01"
    ).rate_limits == (RateLimits())


def test_non_positive_request_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="request_timeout"):
        BrazeCDICredentials(
            api_key="my-rest-api-key-1234", rest_endpoint="US-01", request_timeout=0
        )


def test_the_old_timeout_field_still_works_and_warns() -> None:
    with pytest.warns(
        DeprecationWarning,
        match="timeout is deprecated in BrazeCDICredentials: use request_timeout",
    ) as caught:
        credentials = BrazeCDICredentials(
            api_key="my-rest-api-key-1234", rest_endpoint="US-01", timeout=5
        )

    assert credentials.request_timeout == 5.0
    assert caught[0].filename == __file__
    with credentials.get_client() as client:
        assert client.request_timeout == 5.0


def test_the_old_timeout_field_with_request_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="timeout and request_timeout were both given"):
        BrazeCDICredentials(
            api_key="my-rest-api-key-1234", rest_endpoint="US-01", timeout=5, request_timeout=6
        )


def test_a_block_saved_with_the_old_names_still_loads(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
) -> None:
    # A document as a release before the rename saved it: "timeout", and the policy's
    # "deadline".
    block_id = credentials.save("braze-test-old-names", overwrite=True)
    old_data = {
        "api_key": fake.api_key,
        "rest_endpoint": credentials.rest_endpoint,
        "timeout": 7.0,
        "retry": {"max_attempts": 2, "deadline": 9.0},
    }
    prefect_records.client.update_block_document(
        block_id, BlockDocumentUpdate(data=old_data, merge_existing_data=False)
    )
    stored = prefect_records.client.read_block_document_by_name(
        "braze-test-old-names", block_type_slug="braze-cdi-credentials", include_secrets=False
    )
    assert "timeout" in stored.data and "request_timeout" not in stored.data

    with pytest.warns(DeprecationWarning, match="is deprecated in") as caught:
        loaded = BrazeCDICredentials.load("braze-test-old-names")

    warned = {str(warning.message).split(" is deprecated")[0] for warning in caught}
    assert {"timeout", "deadline"} <= warned
    assert (loaded.request_timeout, loaded.retry.max_duration) == (7.0, 9.0)
    with loaded.get_client() as client:
        assert [i.integration_name for i in client.list_integrations()] == ["users"]
