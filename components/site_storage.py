"""SiteStorage: one Django site's media storage (buckets, CORS, credential, settings).

Public bucket design on AWS: ACLs disabled (BucketOwnerEnforced) and a bucket policy that
lets anyone GET objects. Public read then holds for every object however it was written
(backup restores, `aws s3 sync`), no per-object ACL state can drift, and it is the only
design AWS still recommends. django-storage-url sends an ACL with every upload, and a
bucket with ACLs disabled accepts only `bucket-owner-full-control` (or none), so the DSNs
carry `acl=bucket-owner-full-control`. Regions without AWS bucket policies (Exoscale,
custom endpoints) get public read the other way: uploads carry the canned `public-read`.
Their buckets are this project's own dynamic resources (components/generic_s3), since
pulumi-aws cannot create buckets there; child names are the same as on AWS.

Child names are a contract: renaming one replaces a real bucket. Add an Alias instead. A site's
keys are named by generation (components/site_keys.py): the first keeps `<site>-key`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import CorsRule, SiteConfig
from components.django_settings import (
    BucketAccess,
    dsn_unavailable_reason,
    media_url,
    storage_dsn,
    storages_block,
)
from components.generic_s3 import resources as generic
from components.generic_s3.connection import region_props
from components.policies import (
    exoscale_role_policy,
    private_bucket_policy,
    public_read_policy,
    site_access_policy,
)
from components.regions import Region
from components.site_keys import exoscale_key_name

COMPONENT_TYPE = "site-storage:index:SiteStorage"
ABORT_MULTIPART_AFTER_DAYS = 7
ABORT_MULTIPART_RULE = "abort-incomplete-multipart-uploads"
OWNER_ONLY_ACL = "bucket-owner-full-control"


@dataclass(frozen=True)
class SharedCredential:
    """The stack's one key, on regions without per-site credentials."""

    key_id: str
    secret: pulumi.Input[str]


@dataclass(frozen=True)
class SiteStorageArgs:
    site: SiteConfig
    region: Region
    public_bucket: str
    """Name of the public media bucket."""
    private_bucket: str | None
    """Name of the private bucket; None when the site has none."""
    iam_user_name: str
    """Name of the site's own identity: the AWS IAM user, or the Exoscale role and API key."""
    site_credentials: str = "iam"
    """iam, exoscale-iam or shared (see StackSettings.site_credentials)."""
    protect: bool = True
    """Protect the buckets so no `pulumi up` can delete them; left out, protected."""
    shared_credential: SharedCredential | None = None
    """Required with site_credentials shared: the stack's key, handed to the site."""
    lifecycle: bool = True
    """Abort incomplete multipart uploads after ABORT_MULTIPART_AFTER_DAYS; left out, on."""


class SiteStorage(pulumi.ComponentResource):
    """Buckets, CORS, credential and Django settings for one site."""

    site: str
    public_bucket: str
    private_bucket: str | None
    media_url: str
    cors: dict[str, Any] | None
    dsn_unavailable_reason: str | None
    credential: pulumi.Output[list[str]]
    """Secret: the [key id, secret] handed to the site."""

    def __init__(self, name: str, args: SiteStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Read by the offline preview's stack transformation to tell which site a child belongs to.
        self.site = args.site.slug
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._last_write: dict[str, pulumi.Resource] = {}
        """Each generic bucket's last configuration resource: the next one waits for it."""
        capabilities = args.region.capabilities

        public_acl = OWNER_ONLY_ACL if capabilities.ownership_controls else "public-read"
        private_acl = OWNER_ONLY_ACL if capabilities.ownership_controls else "private"
        public_bucket = self._bucket("public", args.public_bucket, public=True)
        if args.site.cors is not None:
            self._cors(public_bucket, args.site.cors)
        if args.private_bucket is not None:
            self._bucket("private", args.private_bucket, public=False)

        key_id, secret = self._credential()
        public = BucketAccess(args.public_bucket, public_acl, signed_urls=False, custom_domain=args.site.media_domain)
        private = (
            BucketAccess(args.private_bucket, private_acl, signed_urls=True)
            if args.private_bucket is not None
            else None
        )

        self.public_bucket = args.public_bucket
        self.private_bucket = args.private_bucket
        self.media_url = media_url(args.region, args.public_bucket, args.site.media_domain)
        self.cors = args.site.cors.as_dict() if args.site.cors is not None else None
        self.dsn_unavailable_reason = dsn_unavailable_reason(args.region, args.public_bucket)

        self._access = (public, private)
        # Secret through the secret key itself: wrapping the settings dict in Output.secret would
        # lift every key and value of it into an Output of its own (~100 per site).
        self.credential = pulumi.Output.all(key_id, pulumi.Output.secret(secret))
        self.register_outputs({"public_bucket": self.public_bucket, "credential": self.credential})

    def settings_for(self, credential: list[str]) -> dict[str, Any]:
        """The site's Django settings (DSNs, STORAGES, MEDIA_URL) for the resolved credential."""
        key, secret_key = credential
        region, reason = self._args.region, self.dsn_unavailable_reason
        public, private = self._access
        return {
            "default_storage_dsn": None if reason else storage_dsn(region, public, key, secret_key),
            "private_storage_dsn": (
                storage_dsn(region, private, key, secret_key) if private is not None and not reason else None
            ),
            **storages_block(region, public, private, key, secret_key),
        }

    def _bucket(self, role: str, bucket_name: str, *, public: bool) -> pulumi.CustomResource:
        """A bucket and the configuration its role needs, as far as the region supports it."""
        if self._args.region.kind == "aws":
            return self._aws_bucket(role, bucket_name, public=public)
        return self._generic_bucket(role, bucket_name)

    def _aws_bucket(self, role: str, bucket_name: str, *, public: bool) -> aws.s3.Bucket:
        """An AWS bucket (pulumi-aws) and the configuration its role needs."""
        args = self._args
        capabilities = args.region.capabilities
        prefix = f"{self._name}-{role}"
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            prefix,
            bucket=bucket_name,
            force_destroy=False,
            tags={"site": args.site.slug, "role": role} if capabilities.bucket_tags else None,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        if capabilities.ownership_controls:
            aws.s3.BucketOwnershipControls(
                f"{prefix}-ownership",
                bucket=bucket.id,
                rule={"object_ownership": "BucketOwnerEnforced"},
                opts=child,
            )
        policy_deps: list[pulumi.Resource] = []
        if capabilities.public_access_block:
            policy_deps.append(
                aws.s3.BucketPublicAccessBlock(
                    f"{prefix}-access-block",
                    bucket=bucket.id,
                    block_public_acls=True,
                    ignore_public_acls=True,
                    # The public bucket's only public grant is its read policy.
                    block_public_policy=not public,
                    restrict_public_buckets=not public,
                    opts=child,
                )
            )
        if capabilities.bucket_policies:
            document = public_read_policy(bucket_name) if public else private_bucket_policy(bucket_name)
            aws.s3.BucketPolicy(
                f"{prefix}-policy",
                bucket=bucket.id,
                policy=json.dumps(document),
                # AWS refuses a public policy while the access block still blocks it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=policy_deps),
            )
        if capabilities.encryption:
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{prefix}-encryption",
                bucket=bucket.id,
                rules=[
                    {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}
                ],
                opts=child,
            )
        if args.lifecycle:
            aws.s3.BucketLifecycleConfiguration(
                f"{prefix}-lifecycle",
                bucket=bucket.id,
                rules=[
                    {
                        "id": ABORT_MULTIPART_RULE,
                        "status": "Enabled",
                        "filter": {},
                        "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_AFTER_DAYS},
                    }
                ],
                opts=child,
            )
        return bucket

    def _generic_bucket(self, role: str, bucket_name: str) -> pulumi.CustomResource:
        """A generic-S3 bucket (this project's provider code): private bucket ACL, SSE and lifecycle
        where the catalog has them. Public read comes from each upload's public-read ACL."""
        args = self._args
        region = region_props(args.region)
        prefix = f"{self._name}-{role}"
        bucket = generic.Bucket(
            prefix,
            region=region,
            bucket=bucket_name,
            acl="private",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # Plain bucket names keep every input known at preview time; depends_on orders the calls. One
        # configuration write per bucket at a time: Ceph RGW 16.2 keeps CORS, lifecycle and SSE as
        # attributes of the bucket, and of two concurrent writes one can be lost (tests/test_rgw_server.py).
        last: pulumi.Resource = bucket
        if args.region.capabilities.encryption:
            last = generic.BucketEncryption(
                f"{prefix}-encryption", region=region, bucket=bucket_name, opts=self._after(last)
            )
        if args.lifecycle:
            last = generic.BucketLifecycle(
                f"{prefix}-lifecycle",
                region=region,
                bucket=bucket_name,
                rules=[
                    {
                        "id": ABORT_MULTIPART_RULE,
                        "status": "Enabled",
                        "abortIncompleteMultipartUploadDays": ABORT_MULTIPART_AFTER_DAYS,
                    }
                ],
                opts=self._after(last),
            )
        self._last_write[bucket_name] = last
        return bucket

    def _cors(self, bucket: pulumi.CustomResource, cors: CorsRule) -> None:
        name = f"{self._name}-public-cors"
        if self._args.region.kind == "aws":
            aws.s3.BucketCorsConfiguration(
                name, bucket=bucket.id, cors_rules=[_cors_rule(cors)], opts=pulumi.ResourceOptions(parent=self)
            )
            return
        generic.BucketCors(
            name,
            region=region_props(self._args.region),
            bucket=self._args.public_bucket,
            cors_rules=[_generic_cors_rule(cors)],
            opts=self._after(self._last_write.get(self._args.public_bucket, bucket)),
        )

    def _after(self, previous: pulumi.Resource) -> pulumi.ResourceOptions:
        """A child that waits for `previous`: the bucket, or its last configuration write."""
        return pulumi.ResourceOptions(parent=self, depends_on=[previous])

    def _credential(self) -> tuple[pulumi.Input[str], pulumi.Input[str]]:
        """The key handed to the site: its own where the region has an IAM, else the stack's."""
        args = self._args
        buckets = [args.public_bucket] + ([args.private_bucket] if args.private_bucket else [])
        child = pulumi.ResourceOptions(parent=self)
        if args.site_credentials == "iam":
            user = aws.iam.User(
                f"{self._name}-user",
                name=args.iam_user_name,
                path="/site-storage/",
                tags={"site": args.site.slug},
                opts=child,
            )
            aws.iam.UserPolicy(
                f"{self._name}-access-policy",
                user=user.name,
                policy=json.dumps(site_access_policy(buckets)),
                opts=child,
            )
            current: aws.iam.AccessKey | None = None
            for declared in args.site.keys:
                # No status for an active key (None is no input): it keeps the inputs it was created with.
                key = aws.iam.AccessKey(
                    declared.resource_name(self._name),
                    user=user.name,
                    status=None if declared.active else "Inactive",
                    opts=child,
                )
                current = key if declared.current else current
            assert current is not None  # declared_keys always holds the current key
            return current.id, current.secret
        if args.site_credentials == "exoscale-iam":
            # Imported here: only Exoscale stacks pay for loading the Exoscale SDK.
            import pulumiverse_exoscale as exoscale

            role = exoscale.IamRole(
                f"{self._name}-role",
                name=args.iam_user_name,
                description=f"site-storage: media buckets of site {args.site.slug}",
                editable=True,
                policy=exoscale_role_policy(buckets),
                opts=child,
            )
            # Every generation is bound to the site's one role; an Exoscale key cannot be deactivated
            # (config refuses previous_key: inactive here), only deleted.
            current_api_key: Any = None
            for declared in args.site.keys:
                api_key = exoscale.IamApiKey(
                    declared.resource_name(self._name),
                    name=exoscale_key_name(args.iam_user_name, declared.generation),
                    role_id=role.id,
                    opts=child,
                )
                current_api_key = api_key if declared.current else current_api_key
            return current_api_key.key, current_api_key.secret
        if args.shared_credential is None:
            raise ValueError(f"site {args.site.slug}: site_credentials shared needs the stack's key")
        return args.shared_credential.key_id, args.shared_credential.secret


def _cors_rule(cors: CorsRule) -> aws.s3.BucketCorsConfigurationCorsRuleArgsDict:
    rule: aws.s3.BucketCorsConfigurationCorsRuleArgsDict = {
        "allowed_origins": list(cors.origins),
        "allowed_methods": list(cors.methods),
        "allowed_headers": list(cors.headers),
        "max_age_seconds": cors.max_age_seconds,
    }
    if cors.expose_headers:
        rule["expose_headers"] = list(cors.expose_headers)
    return rule


def _generic_cors_rule(cors: CorsRule) -> dict[str, Any]:
    """The same rule in the wire's camelCase, which the generic-S3 resources take as they are."""
    return {_camel(key): value for key, value in _cors_rule(cors).items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
