"""Generated stack configs for the benchmark: N sites on one AWS region with a realistic mix."""

from __future__ import annotations

from typing import Any

REGION = "aws-eu-central-1"
BUCKET_PREFIX = "bench-media"


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


def stack_values(sites: int) -> dict[str, Any]:
    """Namespace-stripped `site-storage:*` values, as `read_stack_file` returns them."""
    return {
        "region": REGION,
        "bucket_prefix": BUCKET_PREFIX,
        "protect": True,
        # The default cap is 200 sites per stack; the benchmark raises it like a big shard would.
        "max_sites": sites,
        "sites": {f"site-{index:04d}": site_settings(index) for index in range(sites)},
    }


def stack_name(sites: int) -> str:
    return f"bench-{sites}"
