"""The resource's ``rate_limits``: Dagster's configuration (Python, run config, a component's
YAML) becomes the core's ``RateLimits`` in every client the resource makes."""

import asyncio
from typing import Any

import dagster as dg
import pytest
from pydantic import ValidationError

from braze_cdi import RateLimit, RateLimits
from dagster_braze_cdi import BrazeCDIRateLimits, BrazeCDIResource, BrazeCDISyncComponent

KEY = "my-rest-api-key-1234"


def made_limits(resource: BrazeCDIResource) -> tuple[RateLimits | None, RateLimits | None]:
    """The limits of the sync and of the async client the resource makes."""

    async def of_async() -> RateLimits | None:
        async with resource.get_async_client() as client:
            return client.rate_limits

    with resource.get_client() as client:
        return client.rate_limits, asyncio.run(of_async())


def test_by_default_the_clients_keep_brazes_documented_limits_across_processes() -> None:
    limits, async_limits = made_limits(BrazeCDIResource(api_key=KEY, rest_endpoint="US-01"))

    assert limits == async_limits == RateLimits()
    assert limits is not None
    assert limits.across_processes is True


def test_the_clients_keep_the_limits_given() -> None:
    resource = BrazeCDIResource(
        api_key=KEY,
        rest_endpoint="US-01",
        rate_limits=BrazeCDIRateLimits(
            trigger_calls=40, status_calls=None, list_period=30.0, across_processes=False
        ),
    )

    limits, async_limits = made_limits(resource)

    assert limits == async_limits
    assert limits is not None
    assert (limits.trigger, limits.list, limits.status) == (
        RateLimit(40, 60.0),
        RateLimit(50, 30.0),
        None,
    )
    assert limits.across_processes is False


def test_none_turns_every_budget_off() -> None:
    resource = BrazeCDIResource(api_key=KEY, rest_endpoint="US-01", rate_limits=None)

    assert made_limits(resource) == (None, None)


@pytest.mark.parametrize("bad", [{"trigger_calls": 0}, {"status_period": 0.0}, {"list_calls": -5}])
def test_a_budget_that_cannot_be_kept_is_refused_naming_the_setting(bad: dict[str, Any]) -> None:
    kind = next(iter(bad)).split("_")[0]

    with pytest.raises(ValidationError, match=f"{kind}_calls, {kind}_period: A rate limit needs"):
        BrazeCDIRateLimits(**bad)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, RateLimits()),
        (
            {"rate_limits": {"trigger_calls": 7, "trigger_period": 2.0}},
            RateLimits(trigger=RateLimit(7, 2.0)),
        ),
        ({"rate_limits": {"status_calls": None}}, RateLimits(status=None)),
        ({"rate_limits": None}, None),
    ],
)
def test_the_run_config_sets_the_limits(
    config: dict[str, Any], expected: RateLimits | None
) -> None:
    @dg.asset
    def limits_seen(braze_cdi: BrazeCDIResource) -> RateLimits | None:
        with braze_cdi.get_client() as client:
            return client.rate_limits

    result = dg.materialize(
        [limits_seen],
        resources={"braze_cdi": BrazeCDIResource.configure_at_launch()},
        run_config={
            "resources": {
                "braze_cdi": {"config": {"api_key": KEY, "rest_endpoint": "US-01", **config}}
            }
        },
    )

    assert result.output_for_node("limits_seen") == expected


@pytest.mark.parametrize(
    ("attributes", "trigger"),
    [
        ({}, RateLimit(20, 60.0)),
        ({"rate_limits": {"trigger_calls": 100, "across_processes": False}}, RateLimit(100, 60.0)),
        ({"rate_limits": None}, None),
    ],
)
def test_the_components_yaml_sets_the_limits(
    attributes: dict[str, Any], trigger: RateLimit | None
) -> None:
    component = BrazeCDISyncComponent.from_attributes_dict(
        attributes={
            "integration_id": "00000000-0000-0000-0000-000000000001",
            "asset": {"key": "braze/users"},
            "api_key": KEY,
            "rest_endpoint": "US-01",
            **attributes,
        }
    )

    limits, _ = made_limits(component.build_resource())

    assert (limits and limits.trigger) == trigger
