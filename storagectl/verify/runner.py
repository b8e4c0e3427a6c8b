"""Running every check for every site, sites concurrently.

On real S3 each request waits tens of milliseconds on the network; checking sites side by
side wins that back. Each site is one task; every task shares the clients from `Clients`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storagectl.verify import django_calls, isolation
from storagectl.verify.checks import (
    PROBE_PREFIX,
    PresentCheck,
    Probe,
    anonymous_list,
    anonymous_read,
    anonymous_refused,
    bucket_acl_note,
    bucket_round_trip,
    guarded,
    signed_url,
)
from storagectl.verify.clients import Clients, ProbeLedger
from storagectl.verify.config_checks import check_access_block, check_cors, check_ownership, check_tls_only
from storagectl.verify.plan import BucketTarget, Credentials, SiteTarget, VerifyPlan
from storagectl.verify.results import (
    ANONYMOUS_LIST_CHECKS,
    CHECK_ORDER,
    CORS,
    DEPLOYED,
    DJANGO_CALL_CHECKS,
    FAIL,
    ISOLATION,
    NOT_APPLICABLE,
    PRIVATE_ACCESS_BLOCK,
    PRIVATE_ANONYMOUS_LIST,
    PRIVATE_ANONYMOUS_REFUSED,
    PRIVATE_OWNERSHIP,
    PRIVATE_READ_WRITE,
    PRIVATE_SIGNED_URL,
    PRIVATE_TLS_ONLY,
    PUBLIC_ANONYMOUS_READ,
    PUBLIC_READ_WRITE,
    SKIP,
    CheckResult,
    describe,
)
from storagectl.wording import counted

# Each site's ~40 requests go one after another, so sites side by side are what hides the
# network's wait. 60 sites behind 20 ms per request (benchmarks/verify_bench.py): 32 at a time
# took 7.10 s on SeaweedFS and 7.29 s on moto where 16 took 8.21 s and 7.59 s, the server's core
# then 86-89% busy: more would mostly queue on the server.
DEFAULT_CONCURRENCY = 32
NOT_WRITTEN = "not checked: the probe object could not be written (see {check})"


def check_site(plan: VerifyPlan, site: SiteTarget, attackers: list[SiteTarget], clients: Clients) -> list[CheckResult]:
    """All checks of one site, plus the isolation checks of the keys tried on its private bucket."""
    own = clients.for_key(site, site.credentials)
    results: list[CheckResult] = []

    present: list[PresentCheck] = [
        *_django_present(site, "public", own),
        (site.slug, PUBLIC_ANONYMOUS_READ, lambda probe: anonymous_read(site, probe)),
    ]
    rw, done = bucket_round_trip(site.slug, "public", own, site.public, present)
    results.append(rw)
    for owner, name, _ in present:
        results.append(done.get((owner, name)) or CheckResult(owner, name, SKIP, NOT_WRITTEN.format(check=rw.check)))
    results.append(_multipart(site, "public", own, site.public, written=bool(done)))
    results.append(_anonymous_list(plan, site, "public", own, clients))

    if site.private is not None:
        results += _private_bucket(site, own, attackers, clients)
        results.append(_anonymous_list(plan, site, "private", own, clients))
    else:
        reason = "the site has no private bucket (private: false)"
        checks = (
            PRIVATE_READ_WRITE,
            *DJANGO_CALL_CHECKS["private"],
            PRIVATE_ANONYMOUS_REFUSED,
            PRIVATE_ANONYMOUS_LIST,
            PRIVATE_SIGNED_URL,
        )
        results += [CheckResult(site.slug, check, NOT_APPLICABLE, reason) for check in checks]

    results += _configuration(plan, site, own, clients)
    return results


def _private_bucket(site: SiteTarget, own: Any, attackers: list[SiteTarget], clients: Clients) -> list[CheckResult]:
    assert site.private is not None

    def attack(attacker: SiteTarget) -> Callable[[Probe | None], CheckResult]:
        return lambda probe: isolation.attempt(attacker, clients, site, probe, own)

    present: list[PresentCheck] = [
        *_django_present(site, "private", own),
        (site.slug, PRIVATE_ANONYMOUS_REFUSED, lambda probe: anonymous_refused(site, probe)),
        (site.slug, PRIVATE_SIGNED_URL, lambda probe: signed_url(site, own, probe)),
    ]
    present += [(attacker.slug, ISOLATION, attack(attacker)) for attacker in attackers]
    rw, done = bucket_round_trip(site.slug, "private", own, site.private, present)
    results = [rw, _multipart(site, "private", own, site.private, written=bool(done))]
    for owner, name, _ in present:
        if (owner, name) in done:
            results.append(done[(owner, name)])
        elif name == ISOLATION:
            # Without the probe, list and put can still be shown refused.
            attacker = next(a for a in attackers if a.slug == owner)
            results.append(attack(attacker)(None))
        else:
            results.append(CheckResult(owner, name, SKIP, NOT_WRITTEN.format(check=rw.check)))
    return results


def _django_present(site: SiteTarget, role: str, own: Any) -> list[PresentCheck]:
    """exists() and listdir() as django-storages calls them, while the probe is there."""
    exists, listdir = DJANGO_CALL_CHECKS[role][:2]
    return [
        (site.slug, exists, lambda probe: django_calls.exists(site.slug, role, own, probe)),
        (site.slug, listdir, lambda probe: django_calls.listdir(site.slug, role, own, probe)),
    ]


def _anonymous_list(plan: VerifyPlan, site: SiteTarget, role: str, own: Any, clients: Clients) -> CheckResult:
    bucket = site.public if role == "public" else site.private
    assert bucket is not None
    # Only where no bucket policy can grant a listing does the ACL tell the whole story.
    config = own if plan.shared_credential else clients.operator(site)
    note = (lambda: "") if plan.capabilities.bucket_policies else (lambda: bucket_acl_note(config, bucket.name))
    return guarded(site.slug, ANONYMOUS_LIST_CHECKS[role], anonymous_list, site, role, bucket, note)


def _multipart(site: SiteTarget, role: str, own: Any, bucket: BucketTarget, *, written: bool) -> CheckResult:
    check = DJANGO_CALL_CHECKS[role][2]
    if not written:  # a key that cannot put one object cannot upload in parts either
        return CheckResult(site.slug, check, SKIP, NOT_WRITTEN.format(check=f"{role}.read-write"))
    return guarded(site.slug, check, django_calls.multipart, site.slug, role, own, bucket, site.request_checksums)


def _configuration(plan: VerifyPlan, site: SiteTarget, own: Any, clients: Clients) -> list[CheckResult]:
    capabilities = plan.capabilities
    # Per-site keys (AWS IAM users, Exoscale IAM roles) may not read bucket configuration: the
    # operator's key (the stack's) does. Only a shared key is the stack's key itself.
    config = own if plan.shared_credential else clients.operator(site)
    slug = site.slug
    results = [
        guarded(slug, CORS, check_cors, slug, config, site.public.name, site.cors)
        if capabilities.cors
        else CheckResult(slug, CORS, NOT_APPLICABLE, f"region {plan.region_id} has no bucket CORS")
    ]
    hardening = (
        (PRIVATE_ACCESS_BLOCK, capabilities.public_access_block, check_access_block, "public access blocks"),
        (PRIVATE_OWNERSHIP, capabilities.ownership_controls, check_ownership, "ownership controls"),
        (PRIVATE_TLS_ONLY, capabilities.bucket_policies, check_tls_only, "AWS bucket policies"),
    )
    for check, supported, run, what in hardening:
        if site.private is None:
            results.append(CheckResult(slug, check, NOT_APPLICABLE, "the site has no private bucket (private: false)"))
        elif not supported:
            results.append(CheckResult(slug, check, NOT_APPLICABLE, f"region {plan.region_id} has no {what}"))
        else:
            results.append(guarded(slug, check, run, slug, config, site.private.name))
    return results


def run_checks(
    plan: VerifyPlan,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    operator: Credentials | None = None,
    on_site_done: Callable[[str], None] | None = None,
) -> list[CheckResult]:
    """Every check of every site in the plan, in report order."""
    targets = isolation.isolation_targets(plan)
    attackers = isolation.attackers_by_target(plan)
    ledger = ProbeLedger(PROBE_PREFIX)
    clients = Clients(operator, pool_connections=concurrency, ledger=ledger)
    undeployed = f"in the stack config but not in the stack outputs: run `{plan.deploy_command}`"
    results = [CheckResult(slug, DEPLOYED, FAIL, undeployed) for slug in plan.undeployed]
    results += [isolation.not_applicable(plan, site.slug) for site in plan.sites if site.slug not in targets]
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        futures = {
            pool.submit(check_site, plan, site, attackers.get(site.slug, []), clients): site.slug for site in plan.sites
        }
        # Sites not checked whose private buckets the checked keys must not reach (`verify SITE`).
        others = {
            pool.submit(isolation.try_on_other_site, other, attackers[other.slug], clients): other.slug
            for other in plan.others
            if other.slug in attackers
        }
        for future in as_completed([*futures, *others]):
            slug = futures.get(future) or others[future]
            try:
                results += future.result()
            except Exception as error:  # a bug in a check must not hide the other sites' results
                results.append(CheckResult(slug, DEPLOYED, FAIL, f"checks stopped: {type(error).__name__}: {error}"))
            if on_site_done is not None and future in futures:
                on_site_done(slug)
    # One isolation record per site first: what the sweep says about another site's bucket joins that record.
    results = _swept(plan, attackers, clients, ledger, isolation.merged(results))
    order = {slug: index for index, slug in enumerate([*plan.undeployed, *(site.slug for site in plan.sites)])}
    return sorted(results, key=lambda r: (order.get(r.site, len(order)), CHECK_ORDER.index(r.check)))


Report = tuple[str, str]
"""(site, check): the record a note about a leftover probe joins."""


def _owners(plan: VerifyPlan, attackers: dict[str, list[SiteTarget]]) -> dict[str, tuple[SiteTarget, Report, Report]]:
    """Per bucket: whose key removes a leftover there, and the records that say so (objects, uploads).

    A site that is not checked (`verify SITE`) is not reported on: what its private bucket may
    keep from trying a checked site's key there is said in that checked site's isolation record.
    """
    owners: dict[str, tuple[SiteTarget, Report, Report]] = {}
    for site in plan.sites:
        public_uploads = DJANGO_CALL_CHECKS["public"][2]
        owners[site.public.name] = (site, (site.slug, PUBLIC_READ_WRITE), (site.slug, public_uploads))
        if site.private is not None:
            private_uploads = DJANGO_CALL_CHECKS["private"][2]
            owners[site.private.name] = (site, (site.slug, PRIVATE_READ_WRITE), (site.slug, private_uploads))
    for other in plan.others:
        tried_by = attackers.get(other.slug)
        if other.private is not None and tried_by:
            record = (tried_by[0].slug, ISOLATION)
            owners[other.private.name] = (other, record, record)
    return owners


def _swept(
    plan: VerifyPlan,
    attackers: dict[str, list[SiteTarget]],
    clients: Clients,
    ledger: ProbeLedger,
    results: list[CheckResult],
) -> list[CheckResult]:
    """Remove what the ledger says may be left (a lost answer, a retried upload), and say so in the owner's check.

    A removal that fails names the object or upload and fails the check: verify never leaves
    a probe behind without saying where.
    """
    objects, uploads = ledger.left()
    if not objects and not uploads:
        return results
    owners = _owners(plan, attackers)
    said: dict[Report, list[str]] = {}
    failed: set[Report] = set()
    for bucket, key in objects:
        if bucket not in owners:
            continue
        site, where, _ = owners[bucket]
        try:
            clients.for_key(site, site.credentials).delete_object(Bucket=bucket, Key=key)
            said.setdefault(where, []).append(
                f"removed s3://{bucket}/{key}, which a request whose answer was lost may have written"
            )
        except (ClientError, BotoCoreError) as error:
            failed.add(where)
            said.setdefault(where, []).append(
                f"probe object s3://{bucket}/{key} may be left (a request whose answer was lost may have written it) "
                f"and could not be removed: {describe(error)}"
            )
    for bucket, key in uploads:
        if bucket not in owners:
            continue
        site, _, where = owners[bucket]
        client = clients.for_key(site, site.credentials)
        try:
            listed = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
            ids = [upload["UploadId"] for upload in listed if upload.get("Key") == key]
            for upload_id in ids:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as error:
            failed.add(where)
            said.setdefault(where, []).append(
                f"multipart uploads of s3://{bucket}/{key} may be left open and could not be aborted: {describe(error)}"
            )
            continue
        if ids:
            said.setdefault(where, []).append(
                f"aborted {counted(len(ids), 'incomplete multipart upload')} of s3://{bucket}/{key} "
                "that a failed or retried request left"
            )
    swept = []
    for result in results:
        notes = said.pop((result.site, result.check), None)
        if notes is None:
            swept.append(result)
            continue
        status = FAIL if (result.site, result.check) in failed else result.status
        swept.append(replace(result, status=status, reason="; ".join([result.reason, *notes])))
    swept += [
        CheckResult(site, check, FAIL if (site, check) in failed else SKIP, "; ".join(notes))
        for (site, check), notes in said.items()
    ]
    return swept
