"""The Prefect block that holds a Braze workspace's API key and endpoint."""

from __future__ import annotations

from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    RateLimits,
    RetryPolicy,
    accept_renamed,
    resolve_rest_endpoint,
)

__all__ = ["BrazeCDICredentials"]


class BrazeCDICredentials(CredentialsBlock):
    """Credentials for the Cloud Data Ingestion API of one Braze workspace.

    Hands out the ``braze_cdi`` clients that the tasks and flows of ``prefect_braze_cdi`` use.
    The endpoint is checked when the block is created, saved or loaded; the key when a client
    is made. Both checks come before any request, and neither echoes the key.

    Example:
        Load stored credentials (the code example Prefect's UI shows):
        ```python
        from prefect import flow
        from prefect_braze_cdi import BrazeCDICredentials, trigger_sync_and_wait_for_completion

        @flow
        def refresh_braze() -> None:
            credentials = BrazeCDICredentials.load("BLOCK_NAME")
            trigger_sync_and_wait_for_completion(credentials, "INTEGRATION_ID")
        ```

    Examples:
        Save the block once (or create it in the UI), then load it where it is needed; here
        the workspace is a FakeBraze:

        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users")
        >>> with fake.serve() as url:
        ...     block = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     _ = block.save("braze-example", overwrite=True)
        ...     credentials = BrazeCDICredentials.load("braze-example")
        ...     with credentials.get_client() as client:
        ...         names = [i.integration_name for i in client.list_integrations()]
        >>> names
        ['users']

        An unknown instance is refused when the block is made, before any request:

        >>> from pydantic import ValidationError
        >>> try:
        ...     BrazeCDICredentials(api_key="my-rest-api-key-1234", rest_endpoint="US-09")
        ... except ValidationError as error:
        ...     print("'US-09' is not a Braze instance" in str(error))
        True
    """

    _block_type_name = "Braze CDI Credentials"
    _documentation_url = HttpUrl("https://www.braze.com/docs/api/endpoints/cdi/")

    api_key: SecretStr = Field(
        default=...,
        title="API Key",
        description=(
            "A Braze REST API key with the cdi.integration_sync, cdi.integration_list and "
            "cdi.integration_job_status permissions (Settings > APIs and Identifiers)."
        ),
    )
    rest_endpoint: str = Field(
        default=...,
        title="REST Endpoint",
        description=(
            "The REST endpoint of the workspace's Braze instance: a URL such as "
            "https://rest.iad-01.braze.com, a host, or an instance name such as US-01."
        ),
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        title="Request Timeout",
        description="Seconds each HTTP exchange with Braze may take, connect to last byte.",
    )
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy,
        title="Retry Policy",
        description=(
            "How one call retries what is transient (5xx, timeouts, rate limits) before its "
            "task fails."
        ),
    )
    rate_limits: RateLimits | None = Field(
        default_factory=RateLimits,
        title="Rate Limits",
        description=(
            "The client's budgets per kind of CDI endpoint, shared by the clients and the "
            "processes of this machine: Braze's documented limits by default (20 triggers, 50 "
            "list and 100 job-status requests a minute). Raise them if Braze raised your "
            "workspace's, lower them to leave room for other callers; null sends without "
            "client-side budgets."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # Blocks saved before the rename hold ``timeout``: they still load, with the warning
        # (pointed at BrazeCDICredentials(...) in code, past Block's __init__ and pydantic's).
        if isinstance(data, dict) and "timeout" in data:
            data = dict(data)
            accept_renamed(
                data, {"timeout": "request_timeout"}, of="BrazeCDICredentials", stacklevel=4
            )
        return data

    @field_validator("rest_endpoint")
    @classmethod
    def _known_endpoint(cls, value: str) -> str:
        resolve_rest_endpoint(value)  # raises BrazeConfigError (a ValueError) with the fix
        return value

    def get_client(self) -> BrazeCDIClient:
        """A new sync client for this workspace; use it as a context manager.

        Returns:
            A ``braze_cdi.BrazeCDIClient``.

        Examples:
            >>> from braze_cdi.testing import FakeBraze
            >>> from prefect_braze_cdi import BrazeCDICredentials
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=2)
            >>> with fake.serve() as url:
            ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
            ...     with credentials.get_client() as client:
            ...         job = client.latest_sync_job(users.integration_id)
            >>> str(job.job_status)
            'success'
        """
        return BrazeCDIClient(
            self.api_key,
            self.rest_endpoint,
            retry=self.retry,
            request_timeout=self.request_timeout,
            rate_limits=self.rate_limits,
        )

    def get_async_client(self) -> AsyncBrazeCDIClient:
        """A new async client for this workspace; use it with ``async with``.

        Returns:
            A ``braze_cdi.AsyncBrazeCDIClient``.

        Examples:
            >>> import asyncio
            >>> from braze_cdi.testing import FakeBraze
            >>> from prefect_braze_cdi import BrazeCDICredentials
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=2)
            >>> async def latest(credentials: BrazeCDICredentials, integration_id: str):
            ...     async with credentials.get_async_client() as client:
            ...         return await client.latest_sync_job(integration_id)
            >>> with fake.serve() as url:
            ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
            ...     job = asyncio.run(latest(credentials, users.integration_id))
            >>> str(job.job_status)
            'success'
        """
        return AsyncBrazeCDIClient(
            self.api_key,
            self.rest_endpoint,
            retry=self.retry,
            request_timeout=self.request_timeout,
            rate_limits=self.rate_limits,
        )
