"""Shared fixtures: Django settings, example-stack evaluations, moto (in-process and server).

Everything here is offline. boto3 only ever talks to moto: the fake credentials below keep
a developer's real AWS configuration out of every client the tests create.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import ParseResult, urlparse

# Before boto3/moto are imported anywhere: moto reads its custom endpoints at import time,
# and no test may pick up a real credential, profile or region from the environment.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    # Lets mock_aws answer the Exoscale endpoint (path style only: moto matches this exact base).
    MOTO_S3_CUSTOM_ENDPOINTS="https://sos-ch-gva-2.exo.io",
)
for _variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_variable, None)

import boto3  # noqa: E402
import django  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from storagectl.offline import Evaluation, evaluate  # noqa: E402
from storagectl.stack_files import read_stack_file  # noqa: E402
from tests.support.moto_verify import moto_gaps_closed  # noqa: E402
from tests.support.moto_verify import moto_server as gap_closed_moto_server  # noqa: E402
from tests.support.rgw import Rgw, rgw_session, terminal_printer  # noqa: E402
from tests.support.seaweedfs import SeaweedFS, seaweedfs_session  # noqa: E402
from tests.support.stacks import example_stack  # noqa: E402

if not settings.configured:
    # django-storage-url and the STORAGES blocks build their storages from explicit values,
    # so Django needs no apps; tests that read STORAGES through Django override it.
    settings.configure(
        INSTALLED_APPS=[],
        USE_TZ=True,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    django.setup()

_EVALUATIONS: dict[str, Evaluation] = {}


def cached_evaluation(stack: str) -> Evaluation:
    """The example stack's evaluation, computed once per session.

    Safe to share: an Evaluation holds plain data copied out of the mock runtime, and
    test_program_stacks.py::test_evaluations_do_not_leak_between_stacks shows that evaluating
    other stacks in between changes nothing. Callers get a deep copy, so no test can alter
    what another one sees.
    """
    if stack not in _EVALUATIONS:
        _EVALUATIONS[stack] = evaluate(read_stack_file(example_stack(stack)))
    return copy.deepcopy(_EVALUATIONS[stack])


@pytest.fixture
def example() -> Callable[[str], Evaluation]:
    """Look up an example stack's evaluation by name (a private deep copy)."""
    return cached_evaluation


@pytest.fixture
def aws_stack() -> Evaluation:
    return cached_evaluation("aws-eu-central-1")


@pytest.fixture
def exoscale_stack() -> Evaluation:
    return cached_evaluation("exoscale-ch-gva-2")


@pytest.fixture
def local_stack() -> Evaluation:
    return cached_evaluation("local")


@dataclass(frozen=True)
class MotoAws:
    """In-process moto (mock_aws): clients with admin rights in the account being built."""

    s3: Any
    iam: Any
    region: str


@pytest.fixture
def moto_aws() -> Iterator[MotoAws]:
    """A fresh mock AWS account in eu-central-1, torn down after the test."""
    with mock_aws():
        yield MotoAws(
            s3=boto3.client("s3", region_name="eu-central-1"),
            iam=boto3.client("iam", region_name="us-east-1"),
            region="eu-central-1",
        )


EXOSCALE_HOST = "sos-ch-gva-2.exo.io"


def _exoscale_as_aws(original: Callable[[str], tuple[ParseResult, bool]]) -> Callable[[str], tuple[ParseResult, bool]]:
    """moto maps only the custom endpoint's own host to AWS's; this maps `<bucket>.<host>` too."""

    def equivalent(url: str) -> tuple[ParseResult, bool]:
        parsed = urlparse(url)
        bucket, dot, host = parsed.netloc.partition(".")
        if dot and host == EXOSCALE_HOST:
            return parsed._replace(netloc=f"{bucket}.s3.amazonaws.com"), True
        return original(url)

    return equivalent


@pytest.fixture
def moto_exoscale(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """mock_aws answering https://sos-ch-gva-2.exo.io (see MOTO_S3_CUSTOM_ENDPOINTS above), path style
    and virtual-hosted (`<bucket>.sos-ch-gva-2.exo.io`, as the DSNs address Exoscale)."""
    from moto.core import botocore_stubber, responses_custom_registry

    for module in (botocore_stubber, responses_custom_registry):
        patched = _exoscale_as_aws(module.get_equivalent_url_in_aws_domain)
        monkeypatch.setattr(module, "get_equivalent_url_in_aws_domain", patched)
    with mock_aws():
        yield boto3.client("s3", region_name="ch-gva-2", endpoint_url=f"https://{EXOSCALE_HOST}")


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A real moto HTTP server on 127.0.0.1 (free port), like `make local-s3`; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server with the gaps tests/support/moto_verify.py closes, for the IAM-enforced tests; one per module."""
    with moto_gaps_closed(), gap_closed_moto_server() as url:
        yield url


@pytest.fixture
def fresh_moto_server(moto_server: str) -> str:
    """The module's moto server with all state wiped before the test."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return moto_server


@pytest.fixture(scope="session")
def rgw(request: pytest.FixtureRequest) -> Iterator[Rgw]:
    """A real Ceph RGW (tests/support/rgw.py): reused or started once per session; skips, saying why, without Ceph."""
    yield from rgw_session(terminal_printer(request.config))


@pytest.fixture(scope="session")
def seaweedfs(request: pytest.FixtureRequest) -> Iterator[SeaweedFS]:
    """A real SeaweedFS S3 server (tests/support/seaweedfs.py): reused or started once per session; skips saying why."""
    yield from seaweedfs_session(terminal_printer(request.config))


@pytest.fixture(autouse=True)
def _no_checksum_mode_leaks() -> Iterator[None]:
    """botocore reads these from the environment for every client: a test that leaves them set
    would change what every later test's clients send (and hide the checksum trap on RGW)."""
    yield
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        assert name not in os.environ, f"a test left {name} set"
