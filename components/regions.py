"""The region catalog: where each region id points and what its S3 service can do.

A region id is what operators write in `site-storage:region`. The catalog turns it into an
endpoint and a set of capabilities; the component creates only what the region supports,
and validation refuses a site that asks for something its region cannot do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from urllib.parse import urlsplit

EXOSCALE_ZONES = ("ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1")
EXOSCALE_FACTS_SOURCE = "https://community.exoscale.com/documentation/storage/simple-object-storage-overview/"
EXOSCALE_ENCRYPTION_SOURCE = "https://community.exoscale.com/product/storage/object-storage/how-to/encryption"
EXOSCALE_LIFECYCLE_SOURCE = (
    "the Exoscale CLI reference (`exo storage bucket lifecycle`, 2026); the older how-to "
    "https://community.exoscale.com/product/storage/object-storage/how-to/bucketlifecycle still says SOS has no native "
    "lifecycle and offers a client-side tool"
)
EXOSCALE_OWNERSHIP_SOURCE = "https://community.exoscale.com/reference/cli/exo/storage/setacl (.ObjectOwnership)"
MINIO_CORS_SOURCE = "minio/minio issues #20995 and #21332"
MEASURED_SERVERS_SOURCE = "measured against each server built from its Go module (docs/generic-s3.md)"
SEAWEEDFS_SOURCE = "tests/test_seaweedfs_server.py, SeaweedFS 4.53"
BOTO3_CHECKSUM_SOURCE = "boto3 >= 1.36 default integrity checksums (botocore request_checksum_calculation)"
S3_CONTROL_TAGS_SOURCE = "terraform-provider-aws issues #45292 and #46202 (pulumi-aws >= 7.13 bridges that provider)"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
"""Endpoint hosts that are this machine: a stack there may allow http://localhost CORS origins."""
AWS_REGIONS_SOURCE = (
    "botocore 1.44.8 (the version uv.lock pins), botocore/data/endpoints.json: the regions of the partitions aws "
    "and aws-us-gov, whose S3 endpoints are https://s3.<region>.amazonaws.com"
)
AWS_REGIONS = (
    # partition aws
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    # partition aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
)
"""AWS regions a stack may name (AWS_REGIONS_SOURCE). A test compares the list with the installed botocore's
data, so upgrading boto3 to a release that knows a new region fails until the region is added here. The
China and isolated partitions are left out: their endpoints are not under amazonaws.com."""


@dataclass(frozen=True)
class Capabilities:
    """What a region's S3 service supports, as the component needs to know it."""

    iam: bool
    """AWS IAM users and access keys, so every site gets its own credential."""
    bucket_policies: bool
    """AWS JSON bucket policies (public-read policy, TLS-only deny)."""
    public_access_block: bool
    ownership_controls: bool
    """BucketOwnerEnforced, i.e. ACLs can be switched off."""
    canned_acls: bool
    """Canned object ACLs such as public-read are honoured."""
    lifecycle: bool
    """Lifecycle rules (abort incomplete multipart uploads) may be configured here."""
    lifecycle_default: bool
    """Lifecycle rules are on unless the stack sets site-storage:lifecycle: false; else they are opt-in."""
    encryption: bool
    """A default server-side encryption configuration per bucket."""
    cors: bool
    bucket_tags: bool
    """Bucket tags can be set and read back by pulumi-aws (it reads them through S3 Control)."""
    bucket_quota: int | None
    """Buckets per account/organisation, when the provider has a low fixed limit."""
    credential_modes: tuple[str, ...] = ("shared",)
    """How sites get credentials here (site-storage:site_credentials); the first is the default."""
    object_lock: bool = False
    """S3 Object Lock (WORM retention on a bucket created with it), for the backup bucket when the stack asks."""
    checksums: str = "when_required"
    """botocore's request_checksum_calculation and response_checksum_validation for clients of this region:
    when_supported (boto3's default since 1.36: a CRC checksum on every upload, sent as an aws-chunked trailer) or
    when_required (only where the API demands one), for servers that refuse the default checksums."""


@dataclass(frozen=True)
class Region:
    """One entry of the catalog, resolved for one stack."""

    id: str
    kind: str
    """aws, exoscale or custom."""
    endpoint_url: str
    signing_region: str
    path_style: bool
    signature: str
    """s3v4 or s3 (SigV2), as botocore names them."""
    capabilities: Capabilities
    notes: tuple[str, ...] = ()
    """Facts about the provider that operators must know, each with its source."""

    @property
    def endpoint_host(self) -> str:
        return urlsplit(self.endpoint_url).netloc

    @property
    def on_this_machine(self) -> bool:
        """A custom endpoint on the loopback interface (`http://127.0.0.1:5000`): a developer's local S3."""
        return self.kind == "custom" and urlsplit(self.endpoint_url).hostname in LOOPBACK_HOSTS


AWS_CAPABILITIES = Capabilities(
    iam=True,
    bucket_policies=True,
    public_access_block=True,
    ownership_controls=True,
    canned_acls=True,
    lifecycle=True,
    lifecycle_default=True,
    encryption=True,
    cors=True,
    bucket_tags=True,
    bucket_quota=None,
    credential_modes=("iam",),
    object_lock=True,
    checksums="when_supported",
)

# Sources: EXOSCALE_FACTS_SOURCE ("Limits", "Advanced Options") and the ones named per line.
EXOSCALE_CAPABILITIES = Capabilities(
    iam=False,  # Exoscale has its own IAM (roles, API keys), not AWS IAM users.
    bucket_policies=False,  # Exoscale bucket policies are not AWS policy JSON.
    public_access_block=False,
    # Exoscale has object ownership settings (EXOSCALE_OWNERSHIP_SOURCE), but public read there needs the
    # public-read ACL, so ACLs stay enabled: the design does not switch them off.
    ownership_controls=False,
    canned_acls=True,  # "ACL for buckets and objects": public read goes through public-read.
    lifecycle=True,  # EXOSCALE_LIFECYCLE_SOURCE; the sources disagree, so opt-in only.
    lifecycle_default=False,
    encryption=True,  # SSE-SOS on every new bucket; put-bucket-encryption AES256 works (EXOSCALE_ENCRYPTION_SOURCE).
    cors=True,  # "CORS for buckets".
    bucket_tags=False,  # S3 Control ListTagsForResource is not served; see S3_CONTROL_TAGS_SOURCE.
    bucket_quota=20,  # "Maximum number of buckets: 20 (service limit upgradeable)".
    # Exoscale IAM: a role limited to named buckets and an API key bound to it, per site.
    credential_modes=("exoscale-iam", "shared"),
)

# A custom endpoint can be MinIO, Ceph RGW or a test server: assume only what all of
# them serve through the plain S3 API. Community MinIO answers bucket CORS calls with
# NotImplemented (MINIO_CORS_SOURCE); lifecycle hangs some Terraform-based tools on Ceph, so opt-in.
CUSTOM_CAPABILITIES = Capabilities(
    iam=False,
    bucket_policies=False,
    public_access_block=False,
    ownership_controls=False,
    canned_acls=True,
    lifecycle=True,
    lifecycle_default=False,
    encryption=False,
    cors=True,
    bucket_tags=False,
    bucket_quota=None,
)

EXOSCALE_NOTES = (
    f"Exoscale allows 20 buckets per organisation unless support raises it ({EXOSCALE_FACTS_SOURCE}).",
    f"New buckets get SSE-SOS encryption; put-bucket-encryption AES256 works ({EXOSCALE_ENCRYPTION_SOURCE}).",
    f"Lifecycle rules are opt-in (site-storage:lifecycle: true): {EXOSCALE_LIFECYCLE_SOURCE}.",
    "Exoscale bucket policies are not AWS policy JSON; public read uses canned ACLs.",
    f"Object ownership settings exist ({EXOSCALE_OWNERSHIP_SOURCE}) but stay at their default: public read needs ACLs.",
    f"No bucket tags are sent: tag reads go through S3 Control ({S3_CONTROL_TAGS_SOURCE}).",
    f"Clients send checksums only where the API requires one ({BOTO3_CHECKSUM_SOURCE}).",
)
CUSTOM_NOTES = (
    "Custom endpoints get buckets, canned ACLs and CORS, lifecycle rules when opted in; "
    "policies, public access blocks and ownership controls are not assumed.",
    f"Community MinIO answers bucket CORS calls with NotImplemented ({MINIO_CORS_SOURCE}): leave cors off there. "
    "It also has no object ACLs: public-read is accepted and ignored, so public media is refused anonymously "
    f"unless a bucket policy publishes the bucket ({MEASURED_SERVERS_SOURCE}).",
    "versitygw 1.8.0 (posix) has no object ACLs (PutObjectAcl NotImplemented; public-read ignored), refuses "
    f"bucket ACLs and lifecycle: public media needs a bucket policy there ({MEASURED_SERVERS_SOURCE}).",
    "SeaweedFS serves canned ACLs, CORS and lifecycle as S3 does, but a key's rights come from its identity's "
    "actions, not from bucket ownership: confine the stack's key to its buckets (actions such as Read:<prefix>*), "
    f"or it reads every bucket ({SEAWEEDFS_SOURCE}).",
    f"No bucket tags are sent: tag reads go through S3 Control ({S3_CONTROL_TAGS_SOURCE}).",
    f"Clients send checksums only where the API requires one ({BOTO3_CHECKSUM_SOURCE}).",
)


class UnknownRegion(ValueError):
    """The region id is not in the catalog."""


def allowed_region_ids() -> str:
    zones = ", ".join(f"exoscale-{zone}" for zone in EXOSCALE_ZONES)
    return f"aws-<aws region> (e.g. aws-eu-central-1), {zones}, or custom"


def unknown_region_hint(region_id: str) -> str:
    """Why an `aws-`/`exoscale-` id is not in the catalog, with the nearest ids that are; '' for other ids."""
    for prefix, known, what in (
        ("aws-", AWS_REGIONS, "an AWS region (botocore's endpoint data)"),
        ("exoscale-", EXOSCALE_ZONES, "an Exoscale zone"),
    ):
        if region_id.startswith(prefix):
            name = region_id[len(prefix) :]
            near = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            nearest = f"; nearest: {', '.join(prefix + item for item in near)}" if near else ""
            return f"; {name!r} is not {what}{nearest}"
    return ""


def resolve_region(
    region_id: str,
    *,
    endpoint: str | None = None,
    signing_region: str | None = None,
    path_style: bool | None = None,
    signature: str | None = None,
) -> Region:
    """Look a region id up in the catalog; `custom` takes its endpoint from the stack."""
    if region_id.startswith("aws-") and region_id[4:] in AWS_REGIONS:
        aws_region = region_id[4:]
        return Region(
            id=region_id,
            kind="aws",
            endpoint_url=f"https://s3.{aws_region}.amazonaws.com",
            signing_region=aws_region,
            path_style=False,
            signature="s3v4",
            capabilities=AWS_CAPABILITIES,
        )
    if region_id.startswith("exoscale-") and region_id[9:] in EXOSCALE_ZONES:
        zone = region_id[9:]
        return Region(
            id=region_id,
            kind="exoscale",
            endpoint_url=f"https://sos-{zone}.exo.io",
            signing_region=zone,
            path_style=False,
            signature="s3v4",
            capabilities=EXOSCALE_CAPABILITIES,
            notes=EXOSCALE_NOTES,
        )
    if region_id == "custom" and endpoint:
        return Region(
            id=region_id,
            kind="custom",
            endpoint_url=endpoint.rstrip("/"),
            signing_region=signing_region or "us-east-1",
            path_style=bool(path_style),
            signature=signature or "s3v4",
            capabilities=CUSTOM_CAPABILITIES,
            notes=CUSTOM_NOTES,
        )
    raise UnknownRegion(region_id)
