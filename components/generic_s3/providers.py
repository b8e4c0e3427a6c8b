"""The generic-S3 provider code: check, diff, create, read, update and delete with boto3.

One class per resource type. Each one:
- resolves the resource's region through the catalog and refuses to call what the region
  lacks (a CORS rule where `cors` is off, lifecycle where `lifecycle` is off, ...);
- compares only its own fields in `diff`, so a no-op plan makes no S3 call at all, and an
  update calls only what the changed fields need (a new CORS origin: one PutBucketCors);
- never sends tags: generic regions cannot store them where pulumi-aws would read them.
A bucket is never emptied: deleting one that holds objects fails with the reason.

Instances pickle as a bare class reference (`__getstate__` is None): the dynamic-provider
machinery stores each resource's provider, pickled, in the Pulumi state, and the key set by
`configure` must never travel with it. No state at all, not even an empty dict, also keeps
clear of an SDK bug: pulumi 3.272's `serialize_provider` wraps `pickle._Pickler._batch_setitems`
once more on every call, so pickling any dict after about a thousand dynamic resources in one
program overflows the stack (tests/test_generic_provider_logic.py shows both).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from components.generic_s3.connection import (
    ACCESS_KEY_CONFIG,
    SECRET_KEY_CONFIG,
    Clients,
    Credentials,
    ProviderError,
    region_of,
)
from components.naming import bucket_name_problem
from components.regions import Region

PROVIDER_KEY = "__provider"
BUCKET_ACLS = ("private",)
"""Bucket ACLs the provider sets. Public read on generic S3 comes from each object's public-read
ACL (the DSN's upload ACL); a public bucket ACL would also let anyone list the bucket."""
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
SSE_ALGORITHMS = ("AES256",)
_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
_AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
Failures = list[tuple[str, str]]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _known(value: Any) -> bool:
    return value != UNKNOWN


def _normal(value: Any) -> Any:
    """`value` as the comparison sees it: the wire's 7.0 and S3's 7 are the same number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _normal(item) for key, item in value.items() if key != PROVIDER_KEY}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    return value


def _same(old: Any, new: Any) -> bool:
    return json.dumps(_normal(old), sort_keys=True, default=str) == json.dumps(
        _normal(new), sort_keys=True, default=str
    )


def _whole(value: Any, minimum: int) -> bool:
    """A whole number of at least `minimum`; the wire format carries every number as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return float(value).is_integer() and value >= minimum


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


class S3Provider(ResourceProvider):
    """What every generic-S3 resource shares: region and key handling, check, diff, the CRUD frame."""

    serialize_as_secret_always = False
    CAPABILITY: ClassVar[str | None] = None
    """The region capability this resource needs (components/regions.py Capabilities field)."""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """The resource's own inputs besides region and bucket, compared by `diff`."""
    REPLACE_ON: ClassVar[tuple[str, ...]] = ("bucket",)

    def __getstate__(self) -> None:
        return None

    # Wiring -----------------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        """The engine hands the stack's config over: the key that manages buckets is in there."""
        credentials = Credentials.from_config(req.config.get)
        self._clients: Clients | None = Clients(credentials) if credentials is not None else None

    def connect(self, clients: Clients) -> S3Provider:
        """Use `clients` (storagectl's engine-less apply and tests); returns self."""
        self._clients = clients
        return self

    def _s3(self, props: Mapping[str, Any]) -> tuple[Any, Region]:
        region = region_of(props)
        self._require_capability(region)
        clients = getattr(self, "_clients", None)
        if clients is None:
            raise ProviderError(
                f"no S3 key: {ACCESS_KEY_CONFIG} and the secret {SECRET_KEY_CONFIG} are not in the stack "
                "configuration the Pulumi engine handed this provider"
            )
        return clients.s3(region), region

    def _require_capability(self, region: Region) -> None:
        if self.CAPABILITY is not None and not getattr(region.capabilities, self.CAPABILITY):
            raise ProviderError(f"region {region.id} has no {self.CAPABILITY} (region catalog); not calling it")

    # Check and diff ----------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: Failures = []
        try:
            region = region_of(news)
            if self.CAPABILITY is not None and not getattr(region.capabilities, self.CAPABILITY):
                failures.append(("region", f"region {region.id} has no {self.CAPABILITY} (region catalog)"))
        except ProviderError as error:
            failures.append(("region", str(error)))
        bucket = news.get("bucket")
        if _known(bucket):
            problem = bucket_name_problem(bucket) if isinstance(bucket, str) else "is not a string"
            if problem:
                failures.append(("bucket", f"bucket name {bucket!r} {problem}"))
        failures += self._field_problems(news)
        return CheckResult(news, [CheckFailure(prop, reason) for prop, reason in failures])

    def _field_problems(self, news: Mapping[str, Any]) -> Failures:
        return []

    def _comparable(self, key: str, value: Any) -> Any:
        """`value` of input `key` as diff compares it (subclasses drop what the server may reorder)."""
        return value

    def _changed(self, olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
        return [
            key for key in keys if not _same(self._comparable(key, olds.get(key)), self._comparable(key, news.get(key)))
        ]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changed(olds, news, ("region", "bucket", *self.FIELDS))
        replaces = [key for key in changed if key in self.REPLACE_ON]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    # CRUD ---------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = _inputs(props)
        client, region = self._s3(inputs)
        self._apply(client, region, inputs, None)
        return CreateResult(inputs["bucket"], inputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = _inputs(news)
        changed = set(self._changed(olds, inputs, ("region", *self.FIELDS)))
        if changed:
            client, region = self._s3(inputs)
            self._apply(client, region, inputs, changed)
        return UpdateResult(inputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = {"bucket": id_, **_inputs(props)}
        client, _ = self._s3(inputs)
        live = self._read(client, inputs["bucket"])
        if live is None:
            return ReadResult(None, {})
        return ReadResult(inputs["bucket"], {**inputs, **live})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        inputs = _inputs(props)
        client, _ = self._s3(inputs)
        self._delete(client, inputs["bucket"])

    def _apply(self, client: Any, region: Region, props: Mapping[str, Any], changed: set[str] | None) -> None:
        """Make the live resource match `props`: everything when `changed` is None (create)."""
        raise NotImplementedError

    def _read(self, client: Any, bucket: str) -> dict[str, Any] | None:
        """The live values of FIELDS, or None when the resource does not exist."""
        raise NotImplementedError

    def _delete(self, client: Any, bucket: str) -> None:
        raise NotImplementedError


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in props.items() if key != PROVIDER_KEY}


def _missing(error: ClientError, *codes: str) -> bool:
    return error_code(error) in ("NoSuchBucket", *codes)


class BucketProvider(S3Provider):
    """A bucket and its canned ACL. Deleting refuses a bucket that holds objects."""

    FIELDS = ("acl",)

    def _field_problems(self, news: Mapping[str, Any]) -> Failures:
        acl = news.get("acl")
        if _known(acl) and acl not in BUCKET_ACLS:
            return [("acl", f"{acl!r} is not allowed; buckets get {', '.join(BUCKET_ACLS)}")]
        return []

    def _apply(self, client: Any, region: Region, props: Mapping[str, Any], changed: set[str] | None) -> None:
        bucket = props["bucket"]
        if changed is None:
            self._create_bucket(client, bucket, region)
        elif "region" in changed and self._read(client, bucket) is None:
            raise ProviderError(
                f"bucket {bucket} does not exist at {region.endpoint_url}: site-storage does not move buckets "
                "between endpoints; create it there and copy the media first"
            )
        if changed is None or "acl" in changed:
            client.put_bucket_acl(Bucket=bucket, ACL=props["acl"])

    def _create_bucket(self, client: Any, bucket: str, region: Region) -> None:
        # The signing region as LocationConstraint, left out for us-east-1, as the AWS SDKs and
        # Terraform send it: Exoscale takes its zone there, RGW's default zonegroup takes none.
        location = {}
        if region.signing_region != "us-east-1":
            location = {"CreateBucketConfiguration": {"LocationConstraint": region.signing_region}}
        try:
            client.create_bucket(Bucket=bucket, **location)
        except ClientError as error:
            code = error_code(error)
            if code == "BucketAlreadyOwnedByYou" or (code == "BucketAlreadyExists" and self._owns(client, bucket)):
                return  # an earlier create got this far: adopt our own bucket, as S3 does in us-east-1
            if code == "BucketAlreadyExists":
                raise ProviderError(f"bucket name {bucket} is taken by another account; pick another prefix") from None
            raise

    @staticmethod
    def _owns(client: Any, bucket: str) -> bool:
        try:
            client.get_bucket_acl(Bucket=bucket)  # only the owner may read a bucket's ACL
        except ClientError:
            return False
        return True

    def _read(self, client: Any, bucket: str) -> dict[str, Any] | None:
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchBucket", "NotFound"):
                return None
            raise
        return {"acl": canned_acl(client.get_bucket_acl(Bucket=bucket).get("Grants", []))}

    def _delete(self, client: Any, bucket: str) -> None:
        try:
            listed = client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as error:
            if _missing(error):
                return
            raise
        if listed.get("KeyCount", 0) or listed.get("Contents"):
            raise ProviderError(_not_empty(bucket))
        try:
            client.delete_bucket(Bucket=bucket)
        except ClientError as error:
            if error_code(error) == "BucketNotEmpty":  # object versions or uploads the listing did not show
                raise ProviderError(_not_empty(bucket)) from None
            if not _missing(error):
                raise


def _not_empty(bucket: str) -> str:
    return (
        f"bucket {bucket} holds objects; site-storage never empties a bucket. Back the media up and empty the "
        "bucket deliberately (docs/operators.md, Decommissioning a site), then run the update again"
    )


def canned_acl(grants: list[dict[str, Any]]) -> str:
    """The canned ACL a bucket's grants amount to, as far as public access goes."""
    public = {
        (grant.get("Grantee", {}).get("URI"), grant.get("Permission"))
        for grant in grants
        if grant.get("Grantee", {}).get("URI") in (_ALL_USERS, _AUTHENTICATED_USERS)
    }
    if (_ALL_USERS, "WRITE") in public or (_ALL_USERS, "FULL_CONTROL") in public:
        return "public-read-write"
    if (_ALL_USERS, "READ") in public:
        return "public-read"
    if public:
        return "authenticated-read"
    return "private"


class BucketCorsProvider(S3Provider):
    """The CORS rules of a site's public bucket."""

    CAPABILITY = "cors"
    FIELDS = ("corsRules",)
    _LISTS = ("allowedOrigins", "allowedMethods", "allowedHeaders", "exposeHeaders")

    def _comparable(self, key: str, value: Any) -> Any:
        # Ceph RGW answers a rule's origins sorted: the order carries no meaning to S3 either.
        if key != "corsRules" or not isinstance(value, list):
            return value
        return [
            {**rule, **{name: sorted(rule.get(name) or []) for name in self._LISTS}}
            if isinstance(rule, Mapping)
            else rule
            for rule in value
        ]

    def _field_problems(self, news: Mapping[str, Any]) -> Failures:
        rules = news.get("corsRules")
        if not _known(rules):
            return []
        if not isinstance(rules, list) or not rules:
            return [("corsRules", "list at least one CORS rule")]
        failures: Failures = []
        for index, rule in enumerate(rules):
            where = f"corsRules[{index}]"
            if not isinstance(rule, Mapping):
                failures.append((where, "is not a CORS rule"))
                continue
            if not _str_list(rule.get("allowedOrigins")) or not rule["allowedOrigins"]:
                failures.append((f"{where}.allowedOrigins", "list at least one origin"))
            methods = rule.get("allowedMethods")
            if not _str_list(methods) or not methods or set(methods) - set(CORS_METHODS):
                failures.append((f"{where}.allowedMethods", f"use some of {', '.join(CORS_METHODS)}"))
            for key in ("allowedHeaders", "exposeHeaders"):
                if rule.get(key) is not None and not _str_list(rule[key]):
                    failures.append((f"{where}.{key}", "use a list of header names"))
            age = rule.get("maxAgeSeconds")
            if age is not None and not _whole(age, 0):
                failures.append((f"{where}.maxAgeSeconds", "use a whole number of seconds, at least 0"))
        return failures

    def _apply(self, client: Any, region: Region, props: Mapping[str, Any], changed: set[str] | None) -> None:
        if changed is None or "corsRules" in changed:
            rules = [_s3_cors_rule(rule) for rule in props["corsRules"]]
            client.put_bucket_cors(Bucket=props["bucket"], CORSConfiguration={"CORSRules": rules})

    def _read(self, client: Any, bucket: str) -> dict[str, Any] | None:
        try:
            rules = client.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
        except ClientError as error:
            if _missing(error, "NoSuchCORSConfiguration"):
                return None
            raise
        return {"corsRules": [_cors_rule_props(rule) for rule in rules]}

    def _delete(self, client: Any, bucket: str) -> None:
        try:
            client.delete_bucket_cors(Bucket=bucket)
        except ClientError as error:
            if not _missing(error, "NoSuchCORSConfiguration"):
                raise


def _s3_cors_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "AllowedOrigins": list(rule["allowedOrigins"]),
        "AllowedMethods": list(rule["allowedMethods"]),
        "AllowedHeaders": list(rule.get("allowedHeaders") or []),
        "MaxAgeSeconds": int(rule.get("maxAgeSeconds", 0)),
    }
    if rule.get("exposeHeaders"):
        converted["ExposeHeaders"] = list(rule["exposeHeaders"])
    return converted


def _cors_rule_props(rule: Mapping[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "allowedOrigins": list(rule.get("AllowedOrigins", [])),
        "allowedMethods": list(rule.get("AllowedMethods", [])),
        "allowedHeaders": list(rule.get("AllowedHeaders", [])),
        "maxAgeSeconds": int(rule.get("MaxAgeSeconds", 0)),
    }
    if rule.get("ExposeHeaders"):
        props["exposeHeaders"] = list(rule["ExposeHeaders"])
    return props


class BucketLifecycleProvider(S3Provider):
    """Lifecycle rules: aborting incomplete multipart uploads. Only set, never waited on: a server
    that leaves a field out of its answer cannot make the update hang."""

    CAPABILITY = "lifecycle"
    FIELDS = ("rules",)

    def _field_problems(self, news: Mapping[str, Any]) -> Failures:
        rules = news.get("rules")
        if not _known(rules):
            return []
        if not isinstance(rules, list) or not rules:
            return [("rules", "list at least one lifecycle rule")]
        failures: Failures = []
        for index, rule in enumerate(rules):
            days = rule.get("abortIncompleteMultipartUploadDays") if isinstance(rule, Mapping) else None
            if not isinstance(rule, Mapping) or not isinstance(rule.get("id"), str):
                failures.append((f"rules[{index}].id", "give the rule an id"))
            elif rule.get("status") not in ("Enabled", "Disabled"):
                failures.append((f"rules[{index}].status", "use Enabled or Disabled"))
            elif not _whole(days, 1):
                failures.append((f"rules[{index}].abortIncompleteMultipartUploadDays", "use a whole number >= 1"))
        return failures

    def _apply(self, client: Any, region: Region, props: Mapping[str, Any], changed: set[str] | None) -> None:
        if changed is None or "rules" in changed:
            rules = [
                {
                    "ID": rule["id"],
                    "Status": rule["status"],
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {
                        "DaysAfterInitiation": int(rule["abortIncompleteMultipartUploadDays"])
                    },
                }
                for rule in props["rules"]
            ]
            client.put_bucket_lifecycle_configuration(Bucket=props["bucket"], LifecycleConfiguration={"Rules": rules})

    def _read(self, client: Any, bucket: str) -> dict[str, Any] | None:
        try:
            rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
        except ClientError as error:
            if _missing(error, "NoSuchLifecycleConfiguration"):
                return None
            raise
        return {
            "rules": [
                {
                    "id": rule.get("ID"),
                    "status": rule.get("Status"),
                    "abortIncompleteMultipartUploadDays": rule.get("AbortIncompleteMultipartUpload", {}).get(
                        "DaysAfterInitiation"
                    ),
                }
                for rule in rules
            ]
        }

    def _delete(self, client: Any, bucket: str) -> None:
        try:
            client.delete_bucket_lifecycle(Bucket=bucket)
        except ClientError as error:
            if not _missing(error, "NoSuchLifecycleConfiguration"):
                raise


class BucketEncryptionProvider(S3Provider):
    """Default server-side encryption. Deleting it leaves encryption on: Exoscale cannot turn SSE-SOS
    off, and no bucket is safer without it."""

    CAPABILITY = "encryption"
    FIELDS = ("sseAlgorithm",)

    def _field_problems(self, news: Mapping[str, Any]) -> Failures:
        algorithm = news.get("sseAlgorithm")
        if _known(algorithm) and algorithm not in SSE_ALGORITHMS:
            return [("sseAlgorithm", f"{algorithm!r} is not allowed; use {', '.join(SSE_ALGORITHMS)}")]
        return []

    def _apply(self, client: Any, region: Region, props: Mapping[str, Any], changed: set[str] | None) -> None:
        if changed is None or "sseAlgorithm" in changed:
            rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": props["sseAlgorithm"]}}
            client.put_bucket_encryption(Bucket=props["bucket"], ServerSideEncryptionConfiguration={"Rules": [rule]})

    def _read(self, client: Any, bucket: str) -> dict[str, Any] | None:
        try:
            rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError as error:
            if _missing(error, "ServerSideEncryptionConfigurationNotFoundError"):
                return None
            raise
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        return {"sseAlgorithm": default.get("SSEAlgorithm")}

    def _delete(self, client: Any, bucket: str) -> None:
        return None
