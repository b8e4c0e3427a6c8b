"""verify's decisions on the configuration it reads (pure functions and in-process moto), and its clients.

These hold the checks to configurations moto stores but does not act on (access blocks,
TLS conditions), so what verify concludes from them is tested independently of moto's serving.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from components.config import CorsRule
from components.policies import private_bucket_policy, public_read_policy
from components.regions import AWS_CAPABILITIES
from storagectl.verify import checks
from storagectl.verify.checks import HttpAnswer, Probe, anonymous_read, anonymous_refused, http_get, public_url
from storagectl.verify.clients import Clients, NoKeyChosen
from storagectl.verify.config_checks import (
    check_access_block,
    check_cors,
    check_ownership,
    check_tls_only,
    compare_cors,
    has_tls_only_deny,
)
from storagectl.verify.isolation import isolation_targets, merged
from storagectl.verify.plan import BucketTarget, Credentials, SiteTarget, VerifyPlan
from storagectl.verify.report import REDACTED, Redactor
from storagectl.verify.results import CheckResult

BUCKET = "acme-media-acme-live-private"
DECLARED = CorsRule(origins=("https://www.acme.example",), methods=("GET", "HEAD"), max_age_seconds=600)


def site(slug: str, *, private: bool = True, key: str | None = None, **changes: Any) -> SiteTarget:
    values: dict[str, Any] = {
        "slug": slug,
        "endpoint_url": "https://s3.eu-central-1.amazonaws.com",
        "region_name": "eu-central-1",
        "signature_version": "s3v4",
        "addressing_style": "virtual",
        "credentials": Credentials(key or f"AKIA{slug.upper()}", "secret/with+chars"),
        "public": BucketTarget(f"acme-media-{slug}-public", "bucket-owner-full-control"),
        "private": BucketTarget(f"acme-media-{slug}-private", "bucket-owner-full-control") if private else None,
        "media_url": f"https://acme-media-{slug}-public.s3.eu-central-1.amazonaws.com/",
        "cors": None,
    }
    values.update(changes)
    return SiteTarget(**values)


def plan(
    *sites: SiteTarget, shared: bool = False, others: tuple[SiteTarget, ...] = (), isolation: str = "auto"
) -> VerifyPlan:
    return VerifyPlan(
        "prod", "aws-eu-central-1", AWS_CAPABILITIES, shared, tuple(sites), others=others, isolation=isolation
    )


# CORS --------------------------------------------------------------------------------------


def test_cors_equal_to_the_declaration_passes_in_any_order() -> None:
    rule = {
        "AllowedOrigins": ["https://www.acme.example"],
        "AllowedMethods": ["HEAD", "GET"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 600,
    }
    assert compare_cors(DECLARED, [rule]) == (
        "pass",
        "CORS is live for https://www.acme.example (GET, HEAD; max age 600s)",
    )


def test_refuses_cors_with_an_extra_expose_header() -> None:
    rule = {
        "AllowedOrigins": ["https://www.acme.example"],
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    }
    assert compare_cors(DECLARED, [rule]) == (
        "fail",
        "CORS differs from the stack config: expose_headers is ['ETag'], declared []",
    )


def test_refuses_two_cors_rules_where_one_is_declared() -> None:
    rule = {"AllowedOrigins": ["https://www.acme.example"], "AllowedMethods": ["GET"]}
    assert compare_cors(DECLARED, [rule, rule]) == ("fail", "the bucket has 2 CORS rules; the stack declares one")


def test_no_cors_where_none_is_declared_passes() -> None:
    assert compare_cors(None, []) == ("pass", "no CORS rules, as the stack declares")


# TLS-only deny -----------------------------------------------------------------------------


def test_the_components_private_policy_has_the_tls_only_deny() -> None:
    assert has_tls_only_deny(private_bucket_policy(BUCKET), BUCKET)


def test_accepts_equivalent_spellings_of_the_tls_only_deny() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["s3:*"],
        "Resource": [f"arn:aws:s3:::{BUCKET}*"],
        "Condition": {"Bool": {"AWS:SecureTransport": [False]}},
    }
    assert has_tls_only_deny({"Statement": statement}, BUCKET)


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Allow"},
        {"Action": "s3:GetObject"},
        {"Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
        {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ],
)
def test_refuses_a_deny_that_does_not_cover_every_request_without_tls(change: dict[str, Any]) -> None:
    statement = {**private_bucket_policy(BUCKET)["Statement"][0], **change}
    assert not has_tls_only_deny({"Statement": [statement]}, BUCKET)


def test_the_public_read_policy_is_not_a_tls_only_deny() -> None:
    assert not has_tls_only_deny(public_read_policy(BUCKET), BUCKET)


# The same checks on configuration stored by moto in-process ---------------------------------


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-central-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        yield client


def test_configuration_checks_fail_on_a_bare_bucket(s3: Any) -> None:
    results = [
        check_cors("acme-live", s3, BUCKET, DECLARED),
        check_access_block("acme-live", s3, BUCKET),
        check_ownership("acme-live", s3, BUCKET),
        check_tls_only("acme-live", s3, BUCKET),
    ]
    assert [(r.check, r.status) for r in results] == [
        ("cors", "fail"),
        ("private.access-block", "fail"),
        ("private.ownership", "fail"),
        ("private.tls-only", "fail"),
    ]
    assert results[2].reason == (
        f"{BUCKET}: no ownership controls: ACLs are enabled; the design is BucketOwnerEnforced"
    )


def test_configuration_checks_pass_on_the_declared_configuration(s3: Any) -> None:
    s3.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["https://www.acme.example"],
                    "AllowedMethods": ["GET", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    flags = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=flags)
    s3.put_bucket_ownership_controls(
        Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(private_bucket_policy(BUCKET)))
    results = [
        check_cors("acme-live", s3, BUCKET, DECLARED),
        check_access_block("acme-live", s3, BUCKET),
        check_ownership("acme-live", s3, BUCKET),
        check_tls_only("acme-live", s3, BUCKET),
    ]
    assert [r.status for r in results] == ["pass"] * 4


# URLs and anonymous answers ------------------------------------------------------------------


def test_public_url_is_media_url_plus_key_when_its_host_resolves() -> None:
    target = site("acme-live", media_url="https://media.acme.example/")
    assert public_url(target, "k.txt", resolve=lambda host: True) == ("https://media.acme.example/k.txt", "")


def test_public_url_falls_back_to_the_bucket_url_when_the_media_domain_does_not_resolve() -> None:
    target = site("acme-live", media_url="https://media.acme.example/")
    url, note = public_url(target, "k.txt", resolve=lambda host: False)
    assert url == "https://acme-media-acme-live-public.s3.eu-central-1.amazonaws.com/k.txt"
    assert note == " (MEDIA_URL host media.acme.example does not resolve: used the bucket URL)"


def test_public_url_with_an_endpoint_override_is_path_style_on_that_endpoint() -> None:
    target = site("acme-live", endpoint_url="http://127.0.0.1:5000", addressing_style="path", endpoint_overridden=True)
    url, note = public_url(target, "k.txt", resolve=lambda host: True)
    assert url == "http://127.0.0.1:5000/acme-media-acme-live-public/k.txt"
    assert note.startswith(" (--endpoint-url given")


def test_anonymous_read_fails_when_a_cdn_answers_other_content() -> None:
    probe = Probe.new("acme-media-acme-live-public")
    target = site("acme-live", media_url="https://media.acme.example/")
    result = anonymous_read(target, probe, get=lambda url: HttpAnswer(200, b"cached page"))
    assert result.status == "fail"
    assert "returned other content than the probe" in result.reason


def test_private_object_answering_404_anonymously_is_not_counted_as_refused() -> None:
    probe = Probe.new("acme-media-acme-live-private")
    result = anonymous_refused(site("acme-live"), probe, get=lambda url: HttpAnswer(404))
    assert (result.status, result.reason.endswith("answered HTTP 404, expected 403")) == ("fail", True)


def test_an_endpoint_nobody_answers_is_skipped_with_the_connection_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = site("acme-live", endpoint_url=f"http://127.0.0.1:{port}", addressing_style="path")
    result = anonymous_refused(target, Probe.new("acme-media-acme-live-private"))
    assert result.status == "skip"
    assert "did not get an answer" in result.reason and "Connection refused" in result.reason
    assert "\n" not in result.reason


class _Answers(http.server.BaseHTTPRequestHandler):
    """/moved redirects to /probe; /probe answers the probe; /huge answers more than a probe could be."""

    protocol_version = "HTTP/1.1"
    body = b"storagectl verify probe\n"

    def do_GET(self) -> None:
        if self.path == "/moved":
            self._answer(302, b"", ("Location", "/probe"))
        elif self.path == "/probe":
            self._answer(200, self.body)
        else:
            self._answer(200, b"x" * (checks._MAX_BODY + 1))

    def _answer(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for name, value in (*headers, ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def answers() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_anonymous_get_follows_a_redirect_like_a_browser(answers: str) -> None:
    answer = http_get(f"{answers}/moved")
    assert (answer.status, answer.body, answer.error) == (200, _Answers.body, None)


def test_anonymous_get_reads_no_more_than_a_probe_could_be_and_stays_usable(answers: str) -> None:
    huge = http_get(f"{answers}/huge")
    assert (huge.status, len(huge.body)) == (200, checks._MAX_BODY)
    # The unread rest went with its connection: the next GET on the same pool gets a clean answer.
    assert http_get(f"{answers}/probe").body == _Answers.body


# Isolation pairs and redaction ---------------------------------------------------------------


def test_isolation_tries_each_checked_key_on_every_other_private_bucket_of_the_stack() -> None:
    """Checked or not: `verify a` tries a's key on c's and e's buckets too (sites without one have none to try)."""
    checked = [site("a"), site("b", private=False), site("c")]
    others = (site("d", private=False), site("e"))
    targets = isolation_targets(plan(*checked, others=others))
    assert {attacker: [t.slug for t in tried] for attacker, tried in targets.items()} == {
        "a": ["c", "e"],
        "b": ["a", "c", "e"],
        "c": ["a", "e"],
    }
    assert {a: [t.slug for t in tried] for a, tried in isolation_targets(plan(site("a"), others=others)).items()} == {
        "a": ["e"]
    }


def test_isolation_of_the_whole_stack_is_a_ring_unless_every_pair_is_asked_for() -> None:
    """3·n·(n-1) requests for every pair of a 200-site stack; a ring tries each key and each private bucket once."""
    stack = [site("a"), site("b", private=False), site("c"), site("d")]

    def tried(isolation: str) -> dict[str, list[str]]:
        found = isolation_targets(plan(*stack, isolation=isolation))
        return {attacker: [t.slug for t in targets] for attacker, targets in found.items()}

    assert tried("auto") == tried("ring") == {"a": ["c"], "b": ["c"], "c": ["d"], "d": ["a"]}
    assert tried("every") == {"a": ["c", "d"], "b": ["a", "c", "d"], "c": ["a", "d"], "d": ["a", "c"]}


def test_isolation_has_no_pairs_when_sites_share_one_key() -> None:
    assert isolation_targets(plan(site("a", key="SHARED"), site("b", key="SHARED"), shared=True)) == {}


def _tried(status: str, subject: str, reason: str) -> CheckResult:
    return CheckResult("a", "isolation", status, reason, subject)


def test_isolation_records_merge_into_one_per_site_failing_if_any_bucket_let_the_key_in() -> None:
    found = [_tried("pass", f"s{n}", f"s{n} refused") for n in range(7)]
    assert merged(found) == [
        CheckResult(
            "a",
            "isolation",
            "pass",
            "the private buckets of all 7 other sites refused this site's key (list, put, get): "
            "s0, s1, s2, s3, s4 and 2 more",
        )
    ]
    failing = [*found, _tried("fail", "x", "this site's key may get in x's bucket"), _tried("fail", "y", "...")]
    assert merged(failing) == [
        CheckResult(
            "a",
            "isolation",
            "fail",
            "this site's key may get in x's bucket; not refused either by the private buckets of y",
        )
    ]
    skipped = [_tried("pass", "p", "p refused"), _tried("skip", "q", "q could not write its probe")]
    assert merged(skipped) == [
        CheckResult("a", "isolation", "skip", "q could not write its probe; refused by the private buckets of p")
    ]


def test_redactor_removes_key_ids_and_secrets_also_percent_encoded() -> None:
    target = site("acme-live")
    redact = Redactor(plan(target).secrets())
    text = f"failed for {target.credentials.key_id} with secret%2Fwith%2Bchars and secret/with+chars"
    assert redact(text) == f"failed for {REDACTED} with {REDACTED} and {REDACTED}"


def _signing_key(client: Any) -> str:
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def test_handles_share_one_client_and_each_signs_with_its_own_key_also_interleaved() -> None:
    clients = Clients()
    target = site("a")
    first, second = Credentials("AKIAFIRST", "s1"), Credentials("AKIASECOND", "s2")
    own, other = clients.for_key(target, first), clients.for_key(target, second)
    assert own.meta is other.meta  # one botocore client behind both handles
    assert [_signing_key(handle) for handle in (own, other, own, other)] == [
        "AKIAFIRST",
        "AKIASECOND",
        "AKIAFIRST",
        "AKIASECOND",
    ]
    assert "AKIA" not in repr(own) and "s1" not in repr(own)


def test_threads_signing_at_once_each_get_their_own_key() -> None:
    """The key is chosen per thread: 8 threads signing at once never sign with each other's key."""
    clients = Clients(pool_connections=8)
    target = site("a")
    start = threading.Barrier(8)
    seen: dict[str, set[str]] = {}

    def sign_many(index: int) -> None:
        handle = clients.for_key(target, Credentials(f"AKIATHREAD{index}", f"secret{index}"))
        start.wait(timeout=30)
        seen[f"AKIATHREAD{index}"] = {_signing_key(handle) for _ in range(200)}

    threads = [threading.Thread(target=sign_many, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert seen == {key: {key} for key in (f"AKIATHREAD{index}" for index in range(8))}


def test_a_request_on_a_thread_that_chose_no_key_is_not_signed_with_another_threads_key() -> None:
    clients = Clients()
    target = site("a")
    handle = clients.for_key(target, Credentials("AKIAFIRST", "s1"))
    shared = handle._client  # the client itself, without a handle choosing a key
    errors: list[BaseException] = []

    def unsigned_by_mistake() -> None:
        try:
            shared.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
        except NoKeyChosen as error:
            errors.append(error)

    assert _signing_key(handle) == "AKIAFIRST"  # this thread chose a key; the other thread did not
    thread = threading.Thread(target=unsigned_by_mistake)
    thread.start()
    thread.join(timeout=30)
    assert len(errors) == 1


def test_the_cli_default_concurrency_is_the_runners() -> None:
    from storagectl.verify import command, runner

    assert command.DEFAULT_CONCURRENCY == runner.DEFAULT_CONCURRENCY
