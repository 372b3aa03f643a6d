"""The Prefect block that holds a Braze workspace's API key and endpoint."""

from __future__ import annotations

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator

from braze_cdi import AsyncBrazeCDIClient, BrazeCDIClient, RetryPolicy
from braze_cdi._config import resolve_rest_endpoint

__all__ = ["BrazeCDICredentials"]


class BrazeCDICredentials(CredentialsBlock):
    """Credentials for the Cloud Data Ingestion API of one Braze workspace.

    Hands out the ``braze_cdi`` clients that the tasks and flows of ``prefect_braze_cdi`` use.
    The endpoint is checked when the block is created, saved or loaded; the key when a client
    is made. Both checks come before any request, and neither echoes the key.

    Examples:
        Load stored credentials:
        ```python
        from prefect_braze_cdi import BrazeCDICredentials

        braze_cdi_credentials = BrazeCDICredentials.load("BLOCK_NAME")
        ```

        Trigger a sync and wait for it inside a flow:
        ```python
        from prefect import flow
        from prefect_braze_cdi import BrazeCDICredentials, trigger_sync_and_wait_for_completion

        @flow
        def refresh_braze() -> None:
            credentials = BrazeCDICredentials.load("BLOCK_NAME")
            trigger_sync_and_wait_for_completion(credentials, integration_id="INTEGRATION_ID")
        ```

        Use the core client directly:
        ```python
        from prefect_braze_cdi import BrazeCDICredentials

        with BrazeCDICredentials.load("BLOCK_NAME").get_client() as client:
            for integration in client.list_integrations():
                print(integration.integration_id, integration.integration_name)
        ```
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
    timeout: float = Field(
        default=30.0,
        gt=0,
        title="Request Timeout",
        description="Seconds to wait for each HTTP response from Braze.",
    )
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy,
        title="Retry Policy",
        description=(
            "How one call retries what is transient (5xx, timeouts, rate limits) before its "
            "task fails."
        ),
    )

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
            ```python
            from prefect_braze_cdi import BrazeCDICredentials

            with BrazeCDICredentials.load("BLOCK_NAME").get_client() as client:
                job = client.latest_sync_job("INTEGRATION_ID")
            ```
        """
        return BrazeCDIClient(
            self.api_key, self.rest_endpoint, retry=self.retry, timeout=self.timeout
        )

    def get_async_client(self) -> AsyncBrazeCDIClient:
        """A new async client for this workspace; use it with ``async with``.

        Returns:
            A ``braze_cdi.AsyncBrazeCDIClient``.

        Examples:
            ```python
            from prefect_braze_cdi import BrazeCDICredentials

            async def latest(integration_id: str):
                credentials = await BrazeCDICredentials.aload("BLOCK_NAME")
                async with credentials.get_async_client() as client:
                    return await client.latest_sync_job(integration_id)
            ```
        """
        return AsyncBrazeCDIClient(
            self.api_key, self.rest_endpoint, retry=self.retry, timeout=self.timeout
        )
