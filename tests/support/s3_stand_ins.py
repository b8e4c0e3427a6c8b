"""What moto does not do, stood in for inside moto's S3 request handling (in-process mock or server).

Two stand-ins, each patching the two entry points of moto's S3 responses (bucket and key
requests) for as long as its context is open:

- `default_checksums_refused`: an S3-compatible server that refuses boto3's default integrity
  checksums (components/regions.py, BOTO3_CHECKSUM_SOURCE): since boto3 1.36 every upload is sent
  aws-chunked with a CRC trailer (`x-amz-trailer`, `x-amz-sdk-checksum-algorithm`) and every
  download asks for a checksum (`x-amz-checksum-mode`). Such requests get 400 here; with
  `when_required` botocore sends none of these headers on the calls Django makes.
- `exoscale_iam`: Exoscale IAM, which moto does not have. A role's rule has the one shape the
  component writes (`parameters.bucket in [...] && operation in [...]`, components/policies.py),
  and the operation is named from the request the way the S3 API names the call, in kebab case
  (`sos_operation`). A signed request whose key has a role is refused (403 AccessDenied) unless its
  bucket and operation are in the role's lists; other keys (the stack's own, organisation-wide)
  may do anything; unsigned requests are left to moto's ACLs. Whether Exoscale names every call
  this way is what docs/django-settings.md says cannot be checked here; this checks that the role and verify agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.s3.exceptions import S3AccessDeniedError, S3ClientError
from moto.s3.responses import S3Response

CHECKSUM_HEADERS = ("x-amz-trailer", "x-amz-sdk-checksum-algorithm", "x-amz-checksum-mode")


@contextmanager
def _guarding(guard: Callable[[Any, Any, str, bool], None]) -> Iterator[None]:
    """Run `guard(response, request, full_url, is_key_request)` before moto answers any S3 request."""
    bucket_original, key_original = S3Response._bucket_response, S3Response._key_response

    def bucket_response(self: Any, request: Any, full_url: str) -> Any:
        guard(self, request, full_url, False)
        return bucket_original(self, request, full_url)

    def key_response(self: Any, request: Any, full_url: str) -> Any:
        guard(self, request, full_url, True)
        return key_original(self, request, full_url)

    S3Response._bucket_response = bucket_response  # type: ignore[method-assign]
    S3Response._key_response = key_response  # type: ignore[method-assign]
    try:
        yield
    finally:
        S3Response._bucket_response = bucket_original  # type: ignore[method-assign]
        S3Response._key_response = key_original  # type: ignore[method-assign]


def _refuse_default_checksums(response: Any, request: Any, full_url: str, is_key: bool) -> None:
    headers = {str(name).lower() for name, _ in request.headers.items()}
    sent = sorted(name for name in headers if name in CHECKSUM_HEADERS or name.startswith("x-amz-checksum-"))
    if sent:
        raise S3ClientError("InvalidRequest", f"checksum headers are not supported: {', '.join(sent)}")


@contextmanager
def default_checksums_refused() -> Iterator[None]:
    with _guarding(_refuse_default_checksums):
        yield


# (is a key request, method, query parameter) -> operation; the first query match wins, "" is the default.
_OPERATIONS: dict[tuple[bool, str], tuple[tuple[str, str], ...]] = {
    (False, "GET"): (
        ("list-type", "list-objects-v2"),
        ("uploads", "list-multipart-uploads"),
        ("location", "get-bucket-location"),
        ("cors", "get-bucket-cors"),
        ("acl", "get-bucket-acl"),
        ("policy", "get-bucket-policy"),
        ("lifecycle", "get-bucket-lifecycle-configuration"),
        ("", "list-objects"),
    ),
    (False, "HEAD"): (("", "head-bucket"),),
    (False, "PUT"): (("cors", "put-bucket-cors"), ("acl", "put-bucket-acl"), ("", "create-bucket")),
    (False, "DELETE"): (("cors", "delete-bucket-cors"), ("", "delete-bucket")),
    (False, "POST"): (("delete", "delete-objects"),),
    (True, "HEAD"): (("", "head-object"),),
    (True, "GET"): (("uploadId", "list-parts"), ("acl", "get-object-acl"), ("", "get-object")),
    (True, "PUT"): (("partNumber", "upload-part"), ("acl", "put-object-acl"), ("", "put-object")),
    (True, "POST"): (("uploads", "create-multipart-upload"), ("uploadId", "complete-multipart-upload")),
    (True, "DELETE"): (("uploadId", "abort-multipart-upload"), ("", "delete-object")),
}


def sos_operation(is_key: bool, method: str, query: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    if is_key and method == "PUT" and "x-amz-copy-source" in {str(name).lower() for name, _ in headers.items()}:
        return "copy-object"
    for parameter, operation in _OPERATIONS.get((is_key, method), ()):
        if parameter == "" or parameter in query:
            return operation
    return f"unknown-{method.lower()}"


@dataclass(frozen=True)
class Role:
    buckets: frozenset[str]
    operations: frozenset[str]

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> Role:
        """The role of an `exoscale:index/iamRole:IamRole` as the evaluation records its inputs."""
        assert policy["defaultServiceStrategy"] == "deny" and set(policy["services"]) == {"sos"}
        [rule] = policy["services"]["sos"]["rules"]
        assert rule["action"] == "allow"
        return cls(_cel_strings(rule["expression"], "parameters.bucket"), _cel_strings(rule["expression"], "operation"))


def _cel_strings(expression: str, binding: str) -> frozenset[str]:
    match = re.search(rf"{re.escape(binding)} in \[([^\]]*)\]", expression)
    assert match, f"no `{binding} in [...]` in {expression!r}"
    return frozenset(re.findall(r"'([^']*)'", match.group(1)))


def _key_id(request: Any, full_url: str) -> str | None:
    authorization = request.headers.get("Authorization", "")
    match = re.search(r"Credential=([^/]+)/", authorization)
    if match:
        return match.group(1)
    credential = parse_qs(urlsplit(full_url).query).get("X-Amz-Credential")
    return credential[0].split("/", 1)[0] if credential else None


@dataclass
class ExoscaleIam:
    roles: dict[str, Role]
    """API key id -> the role it is bound to."""
    seen: list[tuple[str, str, str]]
    """(key id, bucket, operation) of every signed request with a role, allowed or not."""


@contextmanager
def exoscale_iam(roles: dict[str, Role]) -> Iterator[ExoscaleIam]:
    state = ExoscaleIam(roles, [])

    def guard(response: Any, request: Any, full_url: str, is_key: bool) -> None:
        key_id = _key_id(request, full_url)
        role = state.roles.get(key_id or "")
        if role is None or key_id is None:
            return
        query = parse_qs(urlsplit(full_url).query, keep_blank_values=True)
        operation = sos_operation(is_key, request.method, query, request.headers)
        bucket = response.parse_bucket_name_from_url(request, full_url) or ""
        state.seen.append((key_id, bucket, operation))
        if bucket not in role.buckets or operation not in role.operations:
            raise S3AccessDeniedError()

    with _guarding(guard):
        yield state
