"""MediaBackups: the stack's backup bucket (site-storage:backups) and, on AWS, the identity that writes it.

The bucket is private to the stack's account: never public, never named in a site's credential
(each site's policy names only its own two buckets), protected like the sites' buckets, with
server-side encryption and the multipart-abort lifecycle rule where the region has them, and
with S3 Object Lock when the stack asks for it and the region catalog has it.

The writer: on AWS an IAM user of its own, which may read every site bucket of this stack
(`<prefix>-*-public`, `<prefix>-*-private`: the naming contract, so the policy stays one size
whatever the number of sites; an inline user policy holds at most 2,048 characters, which would
name about ten sites' buckets) and write only the backup bucket. Elsewhere there is no IAM to
create one, and the stack's own key (site-storage:access_key_id) writes backups.

Child names are a contract, as in SiteStorage: renaming one replaces a real bucket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import BackupSettings
from components.generic_s3 import resources as generic
from components.generic_s3.connection import region_props
from components.policies import private_bucket_policy
from components.regions import Region
from components.site_storage import ABORT_MULTIPART_AFTER_DAYS, ABORT_MULTIPART_RULE

COMPONENT_TYPE = "site-storage:index:MediaBackups"
NAME = "backups"
"""The component's name; its children are `backups-bucket...` and `backups-writer...` (policy/ reads these)."""
BACKUP_READ_ACTIONS = ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation")
"""What the writer may do on a site's buckets: list and read, nothing else."""
BACKUP_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
BACKUP_OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
"""What the writer may do in the backup bucket: write sets, read them back (restore), prune them."""


@dataclass(frozen=True)
class MediaBackupsArgs:
    settings: BackupSettings
    region: Region
    bucket: str
    bucket_prefix: str
    writer_name: str
    protect: bool = True
    lifecycle: bool = True


def backup_writer_policy(bucket_prefix: str, backup_bucket: str) -> dict[str, Any]:
    """The AWS writer's policy: read every site bucket of the stack, write only the backup bucket."""
    site_buckets = [f"arn:aws:s3:::{bucket_prefix}-*-public", f"arn:aws:s3:::{bucket_prefix}-*-private"]
    backup = f"arn:aws:s3:::{backup_bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSiteBuckets",
                "Effect": "Allow",
                "Action": list(BACKUP_READ_ACTIONS),
                "Resource": [*site_buckets, *(f"{arn}/*" for arn in site_buckets)],
            },
            {"Sid": "BackupBucket", "Effect": "Allow", "Action": list(BACKUP_BUCKET_ACTIONS), "Resource": [backup]},
            {
                "Sid": "BackupObjects",
                "Effect": "Allow",
                "Action": list(BACKUP_OBJECT_ACTIONS),
                "Resource": [f"{backup}/*"],
            },
        ],
    }


class MediaBackups(pulumi.ComponentResource):
    """The backup bucket and its writer."""

    bucket: str
    credential: pulumi.Output[list[str]] | None
    """Secret [key id, secret] of the AWS writer; None elsewhere (the stack's key writes backups)."""

    def __init__(self, args: MediaBackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, NAME, None, opts)
        self._args = args
        self.bucket = args.bucket
        self.credential = None
        if args.region.kind == "aws":
            self._aws_bucket()
            self.credential = self._aws_writer()
        else:
            self._generic_bucket()
        self.register_outputs({"bucket": self.bucket})

    def facts(self) -> dict[str, Any]:
        """The plain `backups` output: where sets go and how long they are kept; no credential."""
        settings = self._args.settings
        lock = settings.object_lock
        return {
            "bucket": self.bucket,
            "endpoint_url": self._args.region.endpoint_url,
            "retention": {
                "daily": settings.retention.daily,
                "weekly": settings.retention.weekly,
                "monthly": settings.retention.monthly,
            },
            "object_lock": {"mode": lock.mode, "days": lock.days} if lock is not None else None,
            "writer": (
                f"IAM user {self._args.writer_name}"
                if self.credential is not None
                else "the stack's key (access_key_id)"
            ),
        }

    def _aws_bucket(self) -> aws.s3.Bucket:
        args = self._args
        name = f"{NAME}-bucket"
        child = pulumi.ResourceOptions(parent=self)
        lock = args.settings.object_lock
        bucket = aws.s3.Bucket(
            name,
            bucket=args.bucket,
            force_destroy=False,
            object_lock_enabled=True if lock is not None else None,
            tags={"role": "backups"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=json.dumps(private_bucket_policy(args.bucket)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}
            ],
            opts=child,
        )
        rules: list[Any] = []
        if args.lifecycle:
            rules.append(
                {
                    "id": ABORT_MULTIPART_RULE,
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_AFTER_DAYS},
                }
            )
        if lock is not None:
            # Object Lock turns versioning on: a pruned object leaves a locked noncurrent version, kept
            # until its retention ends; this rule then removes it, so storage is freed one day after.
            rules.append(
                {
                    "id": "expire-pruned-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": lock.days + 1},
                    "expiration": {"expired_object_delete_marker": True},
                }
            )
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=bucket.id,
                object_lock_enabled="Enabled",
                rule={"default_retention": {"mode": lock.mode.upper(), "days": lock.days}},
                opts=child,
            )
        if rules:
            aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket.id, rules=rules, opts=child)
        return bucket

    def _aws_writer(self) -> pulumi.Output[list[str]]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        user = aws.iam.User(
            f"{NAME}-writer", name=args.writer_name, path="/site-storage/", tags={"role": "backups"}, opts=child
        )
        aws.iam.UserPolicy(
            f"{NAME}-writer-policy",
            user=user.name,
            policy=json.dumps(backup_writer_policy(args.bucket_prefix, args.bucket)),
            opts=child,
        )
        key = aws.iam.AccessKey(f"{NAME}-writer-key", user=user.name, opts=child)
        secret: pulumi.Input[str] = key.secret
        return pulumi.Output.all(key.id, pulumi.Output.secret(secret))

    def _generic_bucket(self) -> pulumi.CustomResource:
        args = self._args
        region = region_props(args.region)
        name = f"{NAME}-bucket"
        bucket = generic.Bucket(
            name,
            region=region,
            bucket=args.bucket,
            acl="private",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        if args.region.capabilities.encryption:
            generic.BucketEncryption(f"{name}-encryption", region=region, bucket=args.bucket, opts=after)
        if args.lifecycle:
            generic.BucketLifecycle(
                f"{name}-lifecycle",
                region=region,
                bucket=args.bucket,
                rules=[
                    {
                        "id": ABORT_MULTIPART_RULE,
                        "status": "Enabled",
                        "abortIncompleteMultipartUploadDays": ABORT_MULTIPART_AFTER_DAYS,
                    }
                ],
                opts=after,
            )
        return bucket
