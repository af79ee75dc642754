"""The Azure ML service, made unreachable: what `mock_azureml()` and the offline pipeline
validation (`champion.pipeline._azure_offline`) both need before the SDK may build anything.

Why one helper: both replace the SDK's service discovery (`ServiceContext._fetch_endpoints`,
which would call Azure to learn where each service lives) with fixed endpoints on the discard
port of loopback, so a request that slips past every other guard is refused at once instead of
waiting on DNS and retries; and both build workspaces with the same nil subscription. Written
twice, the two fakes drifted (different endpoints, different patch styles). It lives in the
local workspace because `champion.pipeline` may import the local workspace, not the other way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from azureml._restclient.service_context import ServiceContext, _ServiceKeys

__all__ = [
    "OFFLINE_ORIGIN",
    "OFFLINE_SUBSCRIPTION_ID",
    "discovery_patch",
    "service_discovery_answered",
]

OFFLINE_ORIGIN = "https://127.0.0.1:9"
"""Loopback, port 9 (discard): where the SDK believes every service is, offline."""
OFFLINE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"


def discovery_patch(endpoint: str) -> tuple[object, str, object]:
    """`(owner, attribute, replacement)` that makes service discovery answer `endpoint` for
    every service, with no call; `mock_azureml` applies it with its other patch points."""
    endpoints = dict.fromkeys(_ServiceKeys.get_discovery_keys(), endpoint)

    def fetch_endpoints(_context: object) -> dict[str, str]:
        return dict(endpoints)

    fetch_endpoints.__qualname__ = "offline.fetch_endpoints"
    return ServiceContext, "_fetch_endpoints", fetch_endpoints


@contextlib.contextmanager
def service_discovery_answered(endpoint: str) -> Iterator[None]:
    """`discovery_patch(endpoint)` for the duration of the block, restored after."""
    owner, name, replacement = discovery_patch(endpoint)
    original = vars(owner)[name]
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)
