"""Generated stack configs for the benchmark: N sites on one region with a realistic mix.

Two kinds: `aws` (eu-central-1, pulumi-aws) and `exoscale` (ch-gva-2: the project's generic-S3
dynamic resources, and an Exoscale IAM role and key per site, as the example stack has).
"""

from __future__ import annotations

from typing import Any

KINDS = ("aws", "exoscale")
BUCKET_PREFIX = "bench-media"
PLACEHOLDER = "BENCH_PLACEHOLDER_NOT_A_SECRET"


def site_settings(index: int) -> dict[str, Any]:
    """One site's settings: ~1/3 with CORS, ~1/5 without private bucket, ~1/7 with a media domain."""
    site: dict[str, Any] = {}
    if index % 3 == 0:
        site["cors"] = {"origins": [f"https://www.site{index}.example", f"https://site{index}.example"]}
        if index % 9 == 0:
            site["cors"].update(methods=["GET", "HEAD", "PUT"], max_age_seconds=600)
    if index % 5 == 0:
        site["private"] = False
    if index % 7 == 0:
        site["media_domain"] = f"media.site{index}.example"
    return site


def stack_values(sites: int, kind: str = "aws") -> dict[str, Any]:
    """Namespace-stripped `site-storage:*` values, as `read_stack_file` returns them."""
    values: dict[str, Any] = {
        "region": "aws-eu-central-1",
        "bucket_prefix": BUCKET_PREFIX,
        "protect": True,
        # The default cap is 200 sites per stack; the benchmark raises it like a big shard would.
        "max_sites": sites,
        "sites": {f"site-{index:04d}": site_settings(index) for index in range(sites)},
    }
    if kind == "exoscale":
        values.update(
            region="exoscale-ch-gva-2",
            # As if Exoscale support had raised the organisation's limit of 20 buckets.
            bucket_quota=2 * sites,
            access_key_id="EXO0000000000000000BENCH",
            secret_access_key=PLACEHOLDER,
        )
    return values


def stack_document(sites: int, kind: str) -> dict[str, Any]:
    """What benchmarks.program_child reads: the values and which of them are secrets."""
    document: dict[str, Any] = {"stack": f"bench-{kind}-{sites}", "values": stack_values(sites, kind)}
    if kind == "exoscale":
        document.update(
            secret_keys=["secret_access_key"],
            other_config={"exoscale:key": "EXO0000000000000000BENCH", "exoscale:secret": PLACEHOLDER},
            other_secret_keys=["exoscale:secret"],
        )
    return document
