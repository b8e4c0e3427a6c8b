"""Isolation between sites: each checked site's key against other sites' private buckets.

A key whose policy reaches one other bucket (a copied statement, a prefix wildcard) is caught
only where that bucket is tried. With `every`, each checked key is tried on every other private
bucket of the stack: the buckets of sites checked in the same run while their probe is there
(storagectl.verify.runner), the others with a probe written for the purpose by that site's own
key (`try_on_other_site`). That is 3·n·(n-1) requests for n checked sites: about 600 for one site
of a 200-site stack, 119,400 for all of them. So `auto` (the default) uses `every` when sites
are named (`verify SITE`, the support task) and a ring when the whole stack is checked: each
key on the next site's private bucket, so every key and every private bucket is tried once (3·n
requests); `--isolation every` asks for all pairs anyway. What a ring cannot see, a policy that
names one far-away site's bucket, the policy pack's `iam-site-scoped` refuses before any update.
The sites not checked are not reported on. A site tried on several buckets gets one record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storagectl.verify.checks import Probe, guarded, isolation
from storagectl.verify.clients import Clients
from storagectl.verify.plan import SiteTarget, VerifyPlan
from storagectl.verify.results import FAIL, ISOLATION, NOT_APPLICABLE, PASS, SKIP, CheckResult, describe

NAMED_AT_MOST = 5
"""Sites named in a reason; beyond that it gives a count (a stack holds up to 200 sites)."""


def ring(plan: VerifyPlan) -> bool:
    return plan.isolation == "ring" or (plan.isolation == "auto" and not plan.others)


def isolation_targets(plan: VerifyPlan) -> dict[str, list[SiteTarget]]:
    """For each checked site, the other deployed sites whose private buckets its key is tried on (module doc)."""
    if plan.shared_credential:
        return {}
    everyone = (*plan.sites, *plan.others)
    targets: dict[str, list[SiteTarget]] = {}
    for position, site in enumerate(plan.sites):

        def reachable(other: SiteTarget, site: SiteTarget = site) -> bool:
            return other.private is not None and other.credentials.key_id != site.credentials.key_id

        if ring(plan):
            # The next site in stack order with a private bucket, wrapping round.
            following = (*everyone[position + 1 :], *everyone[:position])
            tried = [other for other in following if reachable(other)][:1]
        else:
            tried = [other for other in everyone if other.slug != site.slug and reachable(other)]
        if tried:
            targets[site.slug] = tried
    return targets


def attackers_by_target(plan: VerifyPlan) -> dict[str, list[SiteTarget]]:
    """The inverse of `isolation_targets`: for each private bucket's site, the checked keys tried on it."""
    checked = {site.slug: site for site in plan.sites}
    attackers: dict[str, list[SiteTarget]] = {}
    for attacker, targets in isolation_targets(plan).items():
        for target in targets:
            attackers.setdefault(target.slug, []).append(checked[attacker])
    return attackers


def not_applicable(plan: VerifyPlan, slug: str) -> CheckResult:
    if plan.shared_credential:
        reason = "the stack's sites share one key (site_credentials: shared): isolation is not promised"
    elif len(plan.sites) + len(plan.others) < 2:
        reason = "the stack has no other deployed site to isolate this one from"
    else:
        reason = "no other deployed site of the stack has a private bucket (with a key of its own) to try this key on"
    return CheckResult(slug, ISOLATION, NOT_APPLICABLE, reason)


def try_on_other_site(target: SiteTarget, attackers: Sequence[SiteTarget], clients: Clients) -> list[CheckResult]:
    """The attackers' keys on a site that is not checked: a probe is put with its own key, tried, then removed."""
    assert target.private is not None and attackers
    own = clients.for_key(target, target.credentials)
    probe = Probe.new(target.private.name)
    results: list[CheckResult] = []
    try:
        try:
            own.put_object(Bucket=probe.bucket, Key=probe.key, Body=probe.body, ContentType="text/plain")
            probe.written = True
        except (ClientError, BotoCoreError):
            pass  # list and put are still tried; the get is reported as not checked
        for attacker in attackers:
            written = probe if probe.written else None
            results.append(attempt(attacker, clients, target, written, own))
    finally:
        leftover = _remove_probe(own, probe) if probe.written else None
    if leftover:
        # Never silent: the other site's bucket would keep a stray object.
        reason = f"{leftover} (put there with {target.slug}'s own key to try this site's key on it)"
        results.append(CheckResult(attackers[0].slug, ISOLATION, FAIL, reason, target.slug))
    return results


def attempt(attacker: SiteTarget, clients: Clients, target: SiteTarget, probe: Probe | None, own: Any) -> CheckResult:
    """`attacker`'s key on `target`'s private bucket (`own`: the target's client, to remove a stray object)."""
    result = guarded(attacker.slug, ISOLATION, _attack, attacker, clients, target, probe, own)
    return result if result.subject else dataclasses.replace(result, subject=target.slug)


def _attack(attacker: SiteTarget, clients: Clients, target: SiteTarget, probe: Probe | None, own: Any) -> CheckResult:
    return isolation(attacker, clients.for_key(target, attacker.credentials), target, probe, own)


def _remove_probe(client: Any, probe: Probe) -> str | None:
    try:
        client.delete_object(Bucket=probe.bucket, Key=probe.key)
    except (ClientError, BotoCoreError) as error:
        return f"probe object s3://{probe.bucket}/{probe.key} could not be removed: {describe(error)}"
    probe.written = False
    return None


def merged(results: Sequence[CheckResult]) -> list[CheckResult]:
    """One isolation record per site out of one per bucket tried: failing if any bucket let the key in."""
    kept: list[CheckResult] = []
    tries: dict[str, list[CheckResult]] = {}
    for result in results:
        if result.check == ISOLATION and result.subject:
            tries.setdefault(result.site, []).append(result)
        else:
            kept.append(result)
    return kept + [_one_record(slug, found) for slug, found in tries.items()]


def _names(results: Sequence[CheckResult]) -> str:
    slugs = [result.subject for result in results]
    shown = ", ".join(slugs[:NAMED_AT_MOST])
    return shown if len(slugs) <= NAMED_AT_MOST else f"{shown} and {len(slugs) - NAMED_AT_MOST} more"


def _one_record(slug: str, found: Sequence[CheckResult]) -> CheckResult:
    if len(found) == 1:
        return CheckResult(slug, ISOLATION, found[0].status, found[0].reason)
    by_status: dict[str, list[CheckResult]] = {}
    for result in sorted(found, key=lambda r: r.subject):
        by_status.setdefault(result.status, []).append(result)
    failed, skipped, passed = by_status.get(FAIL, []), by_status.get(SKIP, []), by_status.get(PASS, [])
    if failed:
        reason = failed[0].reason
        if len(failed) > 1:
            reason += f"; not refused either by the private buckets of {_names(failed[1:])}"
        return CheckResult(slug, ISOLATION, FAIL, reason)
    if skipped:
        reason = "; ".join(result.reason for result in skipped[:NAMED_AT_MOST])
        if len(skipped) > NAMED_AT_MOST:
            reason += f"; the same for {len(skipped) - NAMED_AT_MOST} more"
        if passed:
            reason += f"; refused by the private buckets of {_names(passed)}"
        return CheckResult(slug, ISOLATION, SKIP, reason)
    return CheckResult(
        slug,
        ISOLATION,
        PASS,
        f"the private buckets of all {len(passed)} other sites refused this site's key (list, put, get): "
        f"{_names(passed)}",
    )
