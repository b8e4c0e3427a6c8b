"""One test per class of bad input: the exact line an operator reads (file, key path, value, allowed).

Stack files are written to a temporary directory and read the way `storagectl` and the
program read them (storagectl.stack_files.read_stack_file, then validation); the working
directory is that temporary directory, so every line starts with `Pulumi.test.yaml: `.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import config as config_module
from components.config import ConfigError, StackSettings, parse_settings, show
from components.naming import bucket_name_problem
from components.regions import resolve_region
from storagectl.stack_files import read_stack_file
from tests.support.stacks import MINIMAL_AWS as AWS
from tests.support.stacks import MINIMAL_CUSTOM as CUSTOM
from tests.support.stacks import write_stack

F = "Pulumi.test.yaml"
REGIONS = (
    "aws-<aws region> (e.g. aws-eu-central-1), exoscale-ch-gva-2, exoscale-ch-dk-2, exoscale-de-fra-1, "
    "exoscale-de-muc-1, exoscale-at-vie-1, exoscale-at-vie-2, exoscale-bg-sof-1, or custom"
)
ORIGIN_RULE = "use https://host[:port] (one * at most), or * with allow_any_origin: true"
EXOSCALE: dict[str, Any] = {
    "region": "exoscale-ch-gva-2",
    "bucket_prefix": "helvetia",
    "site_credentials": "shared",
    "access_key_id": "EXO0000000000000000EXAMPLE",
    "secret_access_key": "placeholder",
    "sites": {"one": {}},
}

Read = Callable[..., StackSettings]
Refuse = Callable[..., list[str]]


@pytest.fixture
def read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Read:
    """Write a stack file from namespace-stripped values and validate it like storagectl does."""
    monkeypatch.chdir(tmp_path)

    def run(values: dict[str, Any], **options: Any) -> StackSettings:
        return read_stack_file(write_stack(tmp_path, values, **options)).settings()

    return run


@pytest.fixture
def refuse(read: Read) -> Refuse:
    """The problem lines for a stack file that must be refused."""

    def run(values: dict[str, Any], **options: Any) -> list[str]:
        with pytest.raises(ConfigError) as error:
            read(values, **options)
        return error.value.problems

    return run


def site(**settings: Any) -> dict[str, Any]:
    """The AWS base stack with one site `acme-live` holding `settings`."""
    return {**AWS, "sites": {"acme-live": settings}}


def cors(**rule: Any) -> dict[str, Any]:
    return site(cors={"origins": ["https://www.acme.example"], **rule})


# --- the bases are valid, so each refusal below is caused by its one change -----------------


@pytest.mark.parametrize("base", [AWS, CUSTOM, EXOSCALE], ids=["aws", "custom", "exoscale"])
def test_the_base_stacks_are_accepted(read: Read, base: dict[str, Any]) -> None:
    """The minimal stacks the refusals start from validate cleanly."""
    settings = read(base)
    assert [s.slug for s in settings.sites] == list(base["sites"])


# --- unknown keys --------------------------------------------------------------------------


def test_refuses_unknown_top_level_key(refuse: Refuse) -> None:
    assert refuse({**AWS, "regoin": "aws-eu-west-1"}) == [
        f"{F}: regoin: unknown key; allowed keys: region, endpoint, signing_region, path_style, signature, "
        "bucket_prefix, protect, max_sites, bucket_quota, lifecycle, site_credentials, access_key_id, "
        "secret_access_key, backups, sites"
    ]


def test_refuses_misspelt_cors_instead_of_leaving_cors_off(refuse: Refuse) -> None:
    assert refuse(site(cros={"origins": ["https://www.acme.example"]})) == [
        f"{F}: sites.acme-live.cros: unknown key; allowed keys: private, media_domain, cors, key_generation, "
        "previous_key"
    ]


def test_refuses_unknown_cors_key(refuse: Refuse) -> None:
    assert refuse(cors(method=["GET"])) == [
        f"{F}: sites.acme-live.cors.method: unknown key; allowed keys: origins, allow_any_origin, methods, "
        "headers, expose_headers, max_age_seconds"
    ]


# --- the file itself -----------------------------------------------------------------------


def test_refuses_duplicate_key_naming_its_path_without_echoing_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key written twice in one mapping is refused (YAML would silently keep the last), with
    the line, the key path and the first occurrence; the values (maybe secrets) are not shown."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / F
    path.write_text(
        "config:\n"
        "  site-storage:region: custom\n"
        "  site-storage:secret_access_key: first-secret\n"
        "  site-storage:secret_access_key: second-secret\n"
        "  site-storage:sites:\n"
        "    acme-live:\n"
        "      cors: {origins: ['https://a.example']}\n"
        "      cors: {origins: ['https://b.example']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        read_stack_file(path)
    assert error.value.problems == [
        f"{F}: line 4: secret_access_key: appears again (first on line 3); each key may appear once",
        f"{F}: line 8: sites.acme-live.cors: appears again (first on line 7); each key may appear once",
    ]


def test_refuses_invalid_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / F
    path.write_text("config:\n  site-storage:region: [aws-eu-central-1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_stack_file(path)
    assert error.value.problems == [f"{F}: line 3: not valid YAML: expected ',' or ']', but got '<stream end>'"]


# --- region and endpoint -------------------------------------------------------------------


def test_refuses_missing_region(refuse: Refuse) -> None:
    values = {key: value for key, value in AWS.items() if key != "region"}
    assert refuse(values) == [f"{F}: region: is required; use {REGIONS}"]


@pytest.mark.parametrize(
    ("region", "hint"),
    [
        ("aws-mars-1", "; 'mars-1' is not an AWS region (botocore's endpoint data)"),
        (
            "aws-eu-central-9",
            "; 'eu-central-9' is not an AWS region (botocore's endpoint data); "
            "nearest: aws-eu-central-2, aws-eu-central-1, aws-me-central-1",
        ),
        ("exoscale-ch-zrh-1", "; 'ch-zrh-1' is not an Exoscale zone"),
        ("gcp-europe-west6", ""),
        ("AWS-EU-CENTRAL-1", ""),
    ],
)
def test_refuses_unknown_region(refuse: Refuse, region: str, hint: str) -> None:
    """Only regions that exist: `aws-eu-central-9` has the shape of a region but AWS has none such."""
    assert refuse({**AWS, "region": region}) == [f"{F}: region: {region!r} is not allowed; use {REGIONS}{hint}"]


def test_refuses_custom_region_without_endpoint(refuse: Refuse) -> None:
    values = {key: value for key, value in CUSTOM.items() if key != "endpoint"}
    assert refuse(values) == [
        f"{F}: endpoint: is required; region custom needs the S3 endpoint URL, e.g. https://minio.example.com"
    ]


@pytest.mark.parametrize(
    "endpoint", ["https://minio.example.com/s3", "https://minio.example.com?x=1", "ftp://minio.example.com"]
)
def test_refuses_endpoint_with_path_query_or_other_scheme(refuse: Refuse, endpoint: str) -> None:
    assert refuse({**CUSTOM, "endpoint": endpoint}) == [
        f"{F}: endpoint: {endpoint!r} is not allowed; use http(s)://host[:port] with no path or query"
    ]


def test_refuses_ip_address_endpoint_without_path_style(refuse: Refuse, read: Read) -> None:
    """A bucket cannot be a host name under an IP address: MEDIA_URL and virtual-host
    requests would point nowhere, so such an endpoint needs path_style: true."""
    assert refuse({**CUSTOM, "endpoint": "http://10.0.0.5:9000"}) == [
        f"{F}: path_style: false is not allowed; the endpoint http://10.0.0.5:9000 is an IP address, "
        "which cannot take bucket host names; set path_style: true"
    ]
    assert read({**CUSTOM, "endpoint": "http://10.0.0.5:9000", "path_style": True}).region.path_style


def test_refuses_custom_only_keys_on_a_catalog_region(refuse: Refuse) -> None:
    values = {**AWS, "endpoint": "https://s3.example.com", "path_style": True, "signing_region": "us-east-1"}
    rule = "only region custom takes it; catalog regions have fixed endpoints"
    # Top-level values are checked as the engine hands them to the program: as the text written.
    assert refuse(values) == [
        f"{F}: endpoint: 'https://s3.example.com' is not allowed; {rule}",
        f"{F}: signing_region: 'us-east-1' is not allowed; {rule}",
        f"{F}: path_style: 'true' is not allowed; {rule}",
    ]


# --- bucket names --------------------------------------------------------------------------


def test_refuses_missing_bucket_prefix(refuse: Refuse) -> None:
    values = {key: value for key, value in AWS.items() if key != "bucket_prefix"}
    assert refuse(values) == [
        f"{F}: bucket_prefix: is required; bucket names are <prefix>-<site>-public/-private, e.g. acme-media"
    ]


PREFIX_RULE = (
    "use lowercase letters, digits, hyphens and dots, each dot-separated part starting and ending with a letter "
    "or digit, at most 53 characters"
)


@pytest.mark.parametrize("prefix", ["Acme-Media", "acme_media", "-acme", ".acme", "acme.-media", "acme..media"])
def test_refuses_invalid_bucket_prefix(refuse: Refuse, prefix: str) -> None:
    """Bucket names are host names in virtual-hosted URLs: no part may start or end with a hyphen."""
    assert refuse({**AWS, "bucket_prefix": prefix}) == [f"{F}: bucket_prefix: {prefix!r} is not allowed; {PREFIX_RULE}"]


def test_refuses_bucket_name_too_long(refuse: Refuse) -> None:
    """The private bucket (the longer name) is checked too: 50 + 14 + 8 = 72 characters."""
    prefix = "a" * 50
    public, private = f"{prefix}-acme-live-public", f"{prefix}-acme-live-private"
    assert refuse({**AWS, "bucket_prefix": prefix}) == [
        f"{F}: sites.acme-live: {public!r} is not allowed; bucket name {public!r} is 67 characters long; "
        "S3 bucket names have 3 to 63; shorten the site slug or bucket_prefix",
        f"{F}: sites.acme-live: {private!r} is not allowed; bucket name {private!r} is 68 characters long; "
        "S3 bucket names have 3 to 63; shorten the site slug or bucket_prefix",
    ]


def test_refuses_a_prefix_too_long_for_any_site_naming_bucket_prefix(refuse: Refuse) -> None:
    """When no slug could fit, the key to change is bucket_prefix, not every site."""
    prefix = "a" * 54
    assert refuse({**AWS, "bucket_prefix": prefix, "sites": {"a": {}, "b": {}}}) == [
        f"{F}: bucket_prefix: {prefix[:64]!r} is not allowed; it is 54 characters long; at most 53, so that even a "
        "one-letter site's <prefix>-<site>-private fits S3's 63"
    ]


def test_accepts_the_longest_names_s3_allows(read: Read) -> None:
    """Exactly 63 characters for the private bucket is fine; one more is not."""
    prefix = "a" * (63 - len("-acme-live-private"))
    assert read({**AWS, "bucket_prefix": prefix}).private_bucket("acme-live") == f"{prefix}-acme-live-private"
    assert len(f"{prefix}-acme-live-private") == 63


@pytest.mark.parametrize("prefix", ["xn--acme", "sthree-acme", "amzn-s3-demo-acme", "sthree", "amzn-s3-demo"])
def test_refuses_reserved_bucket_name_prefix_naming_bucket_prefix(refuse: Refuse, prefix: str) -> None:
    """The prefix makes every bucket name reserved: the line names bucket_prefix, once, not each site."""
    reserved = next(r for r in ("xn--", "sthree-", "amzn-s3-demo-") if f"{prefix}-".startswith(r))
    assert refuse({**AWS, "bucket_prefix": prefix, "sites": {"acme-live": {}, "blog": {}}}) == [
        f"{F}: bucket_prefix: {prefix!r} is not allowed; bucket names would start with {reserved!r}, which S3 "
        f"reserves; {PREFIX_RULE}"
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("192.168.10.20", "must not be shaped like an IP address"),
        ("media-s3alias", "must not end with the reserved suffix '-s3alias'"),
        ("media--ol-s3", "must not end with the reserved suffix '--ol-s3'"),
        ("media.mrap", "must not end with the reserved suffix '.mrap'"),
        ("media--x-s3", "must not end with the reserved suffix '--x-s3'"),
        ("ab", "is 2 characters long; S3 bucket names have 3 to 63"),
        ("media-", "must start and end with a lowercase letter or digit"),
    ],
)
def test_bucket_naming_rules_the_config_cannot_reach(name: str, problem: str) -> None:
    """Names the project builds always end in -public/-private, so they can never be IP-shaped
    or carry a reserved suffix; the rules are still checked by bucket_name_problem (used for
    every name), so test them there directly."""
    assert bucket_name_problem(name) == problem
    assert bucket_name_problem("acme-media-acme-live-public") is None


# --- sites ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["Acme_Live", "acme-", "-acme", "a" * 64, "acme.live"])
def test_refuses_bad_site_slug(refuse: Refuse, slug: str) -> None:
    assert refuse({**AWS, "sites": {slug: {}}}) == [
        f"{F}: sites.{slug}: {slug!r} is not allowed; site slugs are lowercase DNS labels: "
        "a-z, 0-9 and inner hyphens, at most 63"
    ]


@pytest.mark.parametrize("value", ["yes", 1, "True"])
def test_refuses_non_bool_private(refuse: Refuse, value: Any) -> None:
    shown = repr(value) if isinstance(value, str) else str(value)
    assert refuse(site(private=value)) == [f"{F}: sites.acme-live.private: {shown} is not allowed; use true or false"]


MEDIA_DOMAIN_RULE = "use a lowercase host name such as media.example.com, without scheme, port or path"


@pytest.mark.parametrize(
    "domain",
    [
        "https://media.acme.example/",
        "media.acme.example:8443",
        "Media.Acme.Example",
        "media_x.acme",
        "media.acme.example\n",
        "-acme-.example",
        " media.acme.example",
    ],
)
def test_refuses_bad_media_domain(refuse: Refuse, domain: str) -> None:
    assert refuse(site(media_domain=domain)) == [
        f"{F}: sites.acme-live.media_domain: {domain!r} is not allowed; {MEDIA_DOMAIN_RULE}"
    ]


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        ("media", "a host name has a dot, as in media.example.com"),
        ("a" * 64 + ".example", f"the label {'a' * 20!r}... is 64 characters long; DNS labels have at most 63"),
        (".".join(["a" * 63] * 4), "the host name is 255 characters long; DNS allows 253"),
    ],
)
def test_refuses_media_domain_breaking_dns_rules(refuse: Refuse, domain: str, problem: str) -> None:
    assert refuse(site(media_domain=domain)) == [
        f"{F}: sites.acme-live.media_domain: {show(domain)} is not allowed; {MEDIA_DOMAIN_RULE}; {problem}"
    ]


def test_refuses_more_sites_than_max_sites(refuse: Refuse) -> None:
    values = {**AWS, "max_sites": 2, "sites": {"a": {}, "b": {}, "c": {}}}
    assert refuse(values) == [
        f"{F}: sites: '3 sites' is not allowed; this stack holds at most 2 (max_sites); "
        "add a shard stack of the same region"
    ]


# --- CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "http://www.acme.example",  # plain http
        "https://www.acme.example/app",  # path
        "https://www.acme.example/",  # trailing slash is a path too
        "https://*.*.acme.example",  # two wildcards
        "www.acme.example",  # no scheme
        "https://www.acme.example\n",  # a trailing newline is not trimmed
        "https://-acme-.example",  # a label starting with a hyphen
        "https://[::1]:8000",
    ],
)
def test_refuses_bad_origin(refuse: Refuse, origin: str) -> None:
    assert refuse(site(cors={"origins": ["https://ok.example", origin]})) == [
        f"{F}: sites.acme-live.cors.origins[1]: {origin!r} is not allowed; {ORIGIN_RULE}"
    ]


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("https://www.acme.example:99999", "port 99999 is not a port; use 1 to 65535"),
        ("https://www.acme.example:0", "port 0 is not a port; use 1 to 65535"),
        ("https://acme.example:-1", "port '-1' is not a port; use 1 to 65535"),
        ("https://acme.example:abc", "port 'abc' is not a port; use 1 to 65535"),
        (
            "https://" + "a" * 64 + ".example",
            f"the label {'a' * 20!r}... is 64 characters long; DNS labels have at most 63",
        ),
        ("https://" + ".".join(["a" * 60] * 5), "the host name is 304 characters long; DNS allows 253"),
    ],
)
def test_refuses_origin_breaking_port_or_dns_rules(refuse: Refuse, origin: str, problem: str) -> None:
    assert refuse(site(cors={"origins": [origin]})) == [
        f"{F}: sites.acme-live.cors.origins[0]: {show(origin)} is not allowed; {ORIGIN_RULE}; {problem}"
    ]


@pytest.mark.parametrize("origin", ["*", "https://*", "https://*:8443"])
def test_refuses_any_origin_without_allow_any_origin(refuse: Refuse, origin: str) -> None:
    assert refuse(site(cors={"origins": [origin]})) == [
        f"{F}: sites.acme-live.cors.origins[0]: {origin!r} is not allowed; "
        "any-origin CORS needs allow_any_origin: true beside origins"
    ]


def test_accepts_any_origin_with_allow_any_origin(read: Read) -> None:
    settings = read(site(cors={"origins": ["*"], "allow_any_origin": True}))
    rule = settings.sites[0].cors
    assert rule is not None and rule.origins == ("*",) and rule.allow_any_origin


def test_accepts_one_wildcard_label_and_a_port(read: Read) -> None:
    rule = read(site(cors={"origins": ["https://*.acme.example", "https://localhost:8000"]})).sites[0].cors
    assert rule is not None and rule.origins == ("https://*.acme.example", "https://localhost:8000")


LOCAL: dict[str, Any] = {**CUSTOM, "endpoint": "http://127.0.0.1:5000", "path_style": True}
LOOPBACK_RULE = (
    "http origins are allowed only as http://localhost[:port] or http://127.0.0.1[:port], and only on region "
    "custom with an endpoint on this machine (127.0.0.1 or localhost)"
)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5000", "http://localhost:9000", "https://localhost"])
def test_accepts_loopback_http_origins_on_an_endpoint_on_this_machine(read: Read, endpoint: str) -> None:
    """Django's runserver (http://localhost:8000) may load media from a local S3."""
    origins = ["http://localhost:8000", "http://127.0.0.1:8000", "http://localhost", "https://localhost:8000"]
    settings = read({**LOCAL, "endpoint": endpoint, "sites": {"demo": {"cors": {"origins": origins}}}})
    rule = settings.sites[0].cors
    assert rule is not None and rule.origins == tuple(origins)


@pytest.mark.parametrize(
    ("values", "region"),
    [(AWS, "aws-eu-central-1"), (CUSTOM, "custom"), (EXOSCALE, "exoscale-ch-gva-2")],
    ids=["aws", "custom-elsewhere", "exoscale"],
)
def test_refuses_loopback_http_origin_on_a_stack_elsewhere(refuse: Refuse, values: dict[str, Any], region: str) -> None:
    stack = {**values, "sites": {"one": {"cors": {"origins": ["https://ok.example", "http://localhost:8000"]}}}}
    assert refuse(stack) == [
        f"{F}: sites.one.cors.origins[1]: 'http://localhost:8000' is not allowed; {LOOPBACK_RULE}; "
        f"this stack is on {region}"
    ]


@pytest.mark.parametrize(
    "origin", ["http://localhost.attacker.example", "http://127.0.0.2:8000", "http://localhost:0", "http://[::1]:8000"]
)
def test_refuses_other_http_origins_on_an_endpoint_on_this_machine(refuse: Refuse, origin: str) -> None:
    assert refuse({**LOCAL, "sites": {"demo": {"cors": {"origins": [origin]}}}}) == [
        f"{F}: sites.demo.cors.origins[0]: {origin!r} is not allowed; {ORIGIN_RULE}"
    ]


def test_refuses_patch_method(refuse: Refuse) -> None:
    assert refuse(cors(methods=["GET", "PATCH"])) == [
        f"{F}: sites.acme-live.cors.methods[1]: 'PATCH' is not allowed; S3 allows only GET, PUT, POST, DELETE, HEAD"
    ]


def test_refuses_duplicate_origin(refuse: Refuse) -> None:
    values = site(cors={"origins": ["https://a.example", "https://b.example", "https://a.example"]})
    assert refuse(values) == [
        f"{F}: sites.acme-live.cors.origins[2]: 'https://a.example' is not allowed; each entry may appear only once"
    ]


@pytest.mark.parametrize("value", [-1, 10**40, 2**31, "²", "1" * 5000, 1.5, True, "0x10"])
def test_refuses_max_age_out_of_range_or_not_a_whole_number(refuse: Refuse, value: Any) -> None:
    """S3 keeps MaxAgeSeconds in 32 bits; "²" is a digit to str.isdigit, not to S3."""
    assert refuse(cors(max_age_seconds=value)) == [
        f"{F}: sites.acme-live.cors.max_age_seconds: {show(value)} is not allowed; use a whole number from 0 to "
        "2147483647"
    ]


def test_refuses_cors_without_origins(refuse: Refuse) -> None:
    assert refuse(site(cors={"methods": ["GET"]})) == [
        f"{F}: sites.acme-live.cors.origins: is required; list the origins allowed to read media, "
        "e.g. https://www.example.com"
    ]


def test_refuses_cors_on_a_region_without_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    """No catalog region lacks CORS today, so build one that does: a site asking for CORS
    there is refused with the region's name, instead of silently getting none."""
    real = resolve_region("custom", endpoint="https://minio.example.com")
    no_cors = dataclasses.replace(real, capabilities=dataclasses.replace(real.capabilities, cors=False))
    monkeypatch.setattr(config_module, "resolve_region", lambda *args, **kwargs: no_cors)
    values = {**CUSTOM, "sites": {"one": {"cors": {"origins": ["https://a.example"]}}, "two": {}}}
    with pytest.raises(ConfigError) as error:
        parse_settings(values, stack="test", source=F, secret_keys=frozenset({"secret_access_key"}))
    assert error.value.problems == [
        f"{F}: sites.one.cors: 'cors' is not allowed; region custom does not support bucket CORS rules"
    ]
    monkeypatch.setattr(config_module, "resolve_region", lambda *args, **kwargs: real)
    assert parse_settings(values, stack="test", source=F, secret_keys=frozenset({"secret_access_key"})).sites


# --- credentials ---------------------------------------------------------------------------

AWS_KEYS_RULE = "AWS sites get their own IAM keys and the provider uses the AWS credential chain"


def test_refuses_access_keys_on_aws(refuse: Refuse) -> None:
    values = {**AWS, "access_key_id": "AKIAEXAMPLE", "secret_access_key": "placeholder"}
    assert refuse(values) == [
        f"{F}: access_key_id: is not allowed on aws-eu-central-1; {AWS_KEYS_RULE}",
        f"{F}: secret_access_key: is not allowed on aws-eu-central-1; {AWS_KEYS_RULE}",
    ]


def test_refuses_exoscale_with_shared_credentials_but_no_keys(refuse: Refuse) -> None:
    values = {key: value for key, value in EXOSCALE.items() if key not in ("access_key_id", "secret_access_key")}
    assert refuse(values) == [
        f"{F}: access_key_id: is required; region exoscale-ch-gva-2 has no AWS IAM; "
        "give the key the provider and the sites use",
        f"{F}: secret_access_key: is required; set it with `pulumi config set --secret site-storage:secret_access_key`",
    ]


def test_refuses_a_plain_text_secret_without_echoing_it(refuse: Refuse) -> None:
    lines = refuse({**CUSTOM, "secret_access_key": "hunter2-plain"}, secure=())
    assert lines == [
        f"{F}: secret_access_key: is stored in plain text; set it with "
        "`pulumi config set --secret site-storage:secret_access_key` so it is encrypted"
    ]
    assert "hunter2-plain" not in "\n".join(lines)


def test_refuses_more_buckets_than_the_exoscale_quota(refuse: Refuse, read: Read) -> None:
    """11 sites with private buckets need 22 buckets; Exoscale allows 20. 10 sites fit."""
    ten: dict[str, Any] = {f"site-{n:02d}": {} for n in range(10)}
    assert len(read({**EXOSCALE, "sites": ten}).sites) == 10
    eleven = {**ten, "site-10": {}}
    assert refuse({**EXOSCALE, "sites": eleven}) == [
        f"{F}: sites: '22 buckets' is not allowed; exoscale-ch-gva-2 allows 20 buckets per organisation; "
        "raise the limit with the provider and set site-storage:bucket_quota, or move sites to another organisation"
    ]
    assert len(read({**EXOSCALE, "bucket_quota": 22, "sites": eleven}).sites) == 11


def test_all_problems_are_reported_together(refuse: Refuse) -> None:
    """An operator fixes a stack file in one pass: unrelated problems all come back at once."""
    values = {**AWS, "regoin": "x", "sites": {"Bad": {}, "acme-live": {"private": "no"}}}
    lines = refuse(values)
    assert [line.split(": ")[1] for line in lines] == ["regoin", "sites.Bad", "sites.acme-live.private"]
