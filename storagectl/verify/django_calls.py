"""What django-storages' S3Storage calls besides put/get/delete, done with the site's own key.

- `exists()` (every save with file_overwrite=False): HeadObject, and only a 404 counts as absent;
  any other answer for a missing key raises, so every such upload fails.
- `listdir()`: the v1 `list_objects` paginator with a `/` delimiter.
- `save()` of a file above s3transfer's threshold: a multipart upload; s3transfer aborts it
  when a part fails, so abort must work too. The two-part upload (a 5 MiB part and a tail) runs
  on the public bucket, where large uploads go; on the private bucket the same calls run with
  one small part, which S3 accepts as a complete upload. Permissions are per operation, not per
  size, and a run then moves 5 MiB per site, not 10 (the verify benchmark measured 5.0x with
  10 MiB per site against 8x wanted: moto's CPU on the parts, or a real uplink, is the limit).

Each runs with the checksum settings of the site's own clients (see clients.py), the way
s3transfer does: with `when_supported` it asks for CRC32 part checksums, as boto3 does by default.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storagectl.verify.checks import PROBE_PREFIX, Probe
from storagectl.verify.plan import BucketTarget
from storagectl.verify.results import (
    DJANGO_CALL_CHECKS,
    FAIL,
    PASS,
    CheckResult,
    describe,
    error_code,
    http_status,
)

MULTIPART_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest size for a part but the last, so a two-part upload needs one this big."""
_FIRST_PART = bytes(MULTIPART_PART_SIZE)
DEFAULT_CHECKSUM_ALGORITHM = "CRC32"
"""What s3transfer asks for when botocore's request_checksum_calculation is when_supported."""
PART_CHECKSUMS = ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256")
"""UploadPart answers that CompleteMultipartUpload must repeat per part, as s3transfer does."""


GONE_UPLOAD_CODES = frozenset({"NoSuchUpload", "NoSuchKey"})
"""What ListParts answers for an aborted multipart upload."""


def exists(site: str, role: str, client: Any, probe: Probe) -> CheckResult:
    """HeadObject of the probe (present) and of a key never written (absent: 404 expected)."""
    check = DJANGO_CALL_CHECKS[role][0]
    try:
        client.head_object(Bucket=probe.bucket, Key=probe.key)
    except ClientError as error:
        reason = f"{probe.bucket}: HeadObject of the probe failed: {describe(error)}; exists() would raise"
        return CheckResult(site, check, FAIL, reason)
    missing = f"{PROBE_PREFIX}{uuid.uuid4().hex}-absent.txt"
    try:
        client.head_object(Bucket=probe.bucket, Key=missing)
    except ClientError as error:
        if http_status(error) == 404:
            reason = f"{probe.bucket}: HeadObject found the probe and answered 404 for a missing key, as exists() needs"
            return CheckResult(site, check, PASS, reason)
        reason = (
            f"{probe.bucket}: HeadObject of a missing key answered {describe(error)}, not 404: django-storages' "
            "exists() treats only 404 as absent, so every upload with file_overwrite=False fails "
            "(AWS answers 403 there when the key may not list the bucket)"
        )
        return CheckResult(site, check, FAIL, reason)
    return CheckResult(site, check, FAIL, f"{probe.bucket}: HeadObject of a key never written answered 200")


def listdir(site: str, role: str, client: Any, probe: Probe) -> CheckResult:
    """The v1 list_objects paginator over the probe's folder, as listdir('storagectl-verify') pages it."""
    check = DJANGO_CALL_CHECKS[role][1]
    try:
        pages = client.pages("list_objects", Bucket=probe.bucket, Delimiter="/", Prefix=PROBE_PREFIX)
    except (ClientError, BotoCoreError) as error:
        return CheckResult(site, check, FAIL, f"{probe.bucket}: ListObjects (v1) failed: {describe(error)}")
    names = {entry["Key"] for page in pages for entry in page.get("Contents", ())}
    if probe.key not in names:
        reason = f"{probe.bucket}: ListObjects (v1, delimiter /) did not show the probe in {PROBE_PREFIX}"
        return CheckResult(site, check, FAIL, reason)
    reason = f"{probe.bucket}: ListObjects (v1 paginator, delimiter /) listed the probe, as listdir() does"
    return CheckResult(site, check, PASS, reason)


class _Uploads:
    """Multipart uploads and objects this check created, so `finally` can remove them."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.open: dict[str, str] = {}
        """key -> upload id, not completed or aborted yet."""
        self.objects: set[str] = set()

    def leftovers(self) -> str | None:
        stuck: list[str] = []
        for key, upload_id in list(self.open.items()):
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError) as error:
                # NoSuchUpload: a complete whose answer was lost did complete it; the object is removed below.
                if not (isinstance(error, ClientError) and error_code(error) == "NoSuchUpload"):
                    stuck.append(
                        f"multipart upload of s3://{self.bucket}/{key} could not be aborted: {describe(error)}"
                    )
                    continue
                self.objects.add(key)
            del self.open[key]
        for key in list(self.objects):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
                self.objects.discard(key)
            except (ClientError, BotoCoreError) as error:
                stuck.append(f"probe object s3://{self.bucket}/{key} could not be removed: {describe(error)}")
        return "; ".join(stuck) or None


def multipart(site: str, role: str, client: Any, bucket: BucketTarget, request_checksums: str) -> CheckResult:
    """A multipart upload completed, read back by size and deleted; then one aborted after a part.

    Two parts (5 MiB and a tail) on the public bucket, one small part on the private one.
    """
    check = DJANGO_CALL_CHECKS[role][2]
    token = uuid.uuid4().hex
    tail = f"storagectl verify multipart probe {token}\n".encode()
    checksum = {"ChecksumAlgorithm": DEFAULT_CHECKSUM_ALGORITHM} if request_checksums == "when_supported" else {}
    uploads = _Uploads(client, bucket.name)
    failure: str | None = None
    step = "create"
    try:
        key = f"{PROBE_PREFIX}{token}-multipart.bin"
        upload_id = client.create_multipart_upload(
            Bucket=bucket.name, Key=key, ACL=bucket.acl, ContentType="application/octet-stream", **checksum
        )["UploadId"]
        uploads.open[key] = upload_id
        parts = []
        bodies = [_FIRST_PART, tail] if role == "public" else [tail]
        for number, body in enumerate(bodies, start=1):
            step = f"upload of part {number}"
            answer = client.upload_part(
                Bucket=bucket.name, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **checksum
            )
            part = {"PartNumber": number, "ETag": answer["ETag"]}
            parts.append({**part, **{name: answer[name] for name in PART_CHECKSUMS if name in answer}})
        step = "complete"
        client.complete_multipart_upload(
            Bucket=bucket.name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        del uploads.open[key]
        uploads.objects.add(key)
        step = "head of the completed object"
        size = client.head_object(Bucket=bucket.name, Key=key)["ContentLength"]
        if size != sum(map(len, bodies)):
            failure = f"the completed object has {size} bytes, not the {sum(map(len, bodies))} uploaded"
        step = "delete of the completed object"
        client.delete_object(Bucket=bucket.name, Key=key)
        uploads.objects.discard(key)

        aborted = f"{PROBE_PREFIX}{token}-aborted.bin"
        step = "create (of the upload to abort)"
        aborted_id = client.create_multipart_upload(
            Bucket=bucket.name, Key=aborted, ACL=bucket.acl, ContentType="application/octet-stream", **checksum
        )["UploadId"]
        uploads.open[aborted] = aborted_id
        step = "upload of a part (of the upload to abort)"
        client.upload_part(Bucket=bucket.name, Key=aborted, UploadId=aborted_id, PartNumber=1, Body=tail, **checksum)
        step = "abort"
        client.abort_multipart_upload(Bucket=bucket.name, Key=aborted, UploadId=aborted_id)
        del uploads.open[aborted]
        step = "list of the aborted upload's parts"
        try:
            client.list_parts(Bucket=bucket.name, Key=aborted, UploadId=aborted_id)
            failure = failure or "the aborted upload still lists its parts"
        except ClientError as error:
            # S3 and moto answer NoSuchUpload for an upload that is gone; Ceph RGW 16.2 answers NoSuchKey
            # (seen under the engine tests, tests/engine/test_custom_stack_engine.py).
            if error_code(error) not in GONE_UPLOAD_CODES:
                raise
    except (ClientError, BotoCoreError) as error:
        failure = f"{step} failed: {describe(error)}"
    finally:
        leftover = uploads.leftovers()
    if leftover:
        failure = f"{failure}; {leftover}" if failure else leftover
    if failure:
        return CheckResult(site, check, FAIL, f"{bucket.name}: multipart upload: {failure}")
    mode = f"checksums {request_checksums}"
    shape = "two-part (5 MiB + tail)" if len(bodies) == 2 else "one-part"
    reason = f"{bucket.name}: a {shape} multipart upload completed and an aborted one left no parts ({mode})"
    return CheckResult(site, check, PASS, reason)
