"""Scale proof: in a 200-site stack, enabling CORS for one site changes that site's CORS resource only.

Both stacks are evaluated in full under the Pulumi mock runtime (storagectl.offline), the
edit goes through `storagectl cors enable`, and the resource sets are compared input by
input. This is what keeps a support change small: one new resource, no other diff.
"""

from __future__ import annotations

from typing import Any

import pytest

from storagectl.commands import site_resources
from storagectl.offline import Evaluation, RecordedResource, evaluate
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import copy_project, invoke

SITES = 200
SITE = "site-137"
ORIGIN = "https://www.site-137.example"
CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"


def scale_stack(sites: int) -> str:
    """An AWS stack of `sites` sites with a mix of options and comments, as a large fleet has."""
    lines = [
        "# A generated shard: the comments must survive the edit.",
        "config:",
        "  site-storage:region: aws-eu-central-1",
        "  site-storage:bucket_prefix: fleet",
        "  site-storage:sites:",
    ]
    for number in range(sites):
        if number % 10 == 0:
            lines.append(f"    # Batch {number // 10}.")
        lines.append(f"    site-{number:03d}:")
        if number % 3 == 0:
            lines.append("      private: false")
        if number % 7 == 0:
            lines.append(f"      media_domain: media.site-{number:03d}.example")
        if number % 5 == 0:
            lines += ["      cors:", "        origins:", f"          - https://site-{number:03d}.example"]
        if lines[-1].endswith(":"):
            lines[-1] += " {}"
    return "\n".join(lines) + "\n"


def _by_key(evaluation: Evaluation) -> dict[tuple[str, str], RecordedResource]:
    return {(resource.type, resource.name): resource for resource in evaluation.resources}


def _facts(resource: RecordedResource) -> tuple[Any, ...]:
    return (resource.site, resource.inputs, resource.protect)


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = copy_project(tmp_path_factory.mktemp("scale") / "project", examples=False)
    path = project.stack_file("fleet")
    path.write_text(scale_stack(SITES))
    before_text = path.read_text()
    before = evaluate(read_stack_file(path))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.root)
        result = invoke("cors", "enable", SITE, "--stack", "fleet", "--origin", ORIGIN)
    assert result.exit_code == 0, result.stderr
    after = evaluate(read_stack_file(path))
    return {"path": path, "before_text": before_text, "before": before, "after": after, "stdout": result.stdout}


def test_the_stack_really_is_that_large(scale: dict[str, Any]) -> None:
    assert len(scale["before"].settings.sites) == SITES == scale["before"].settings.max_sites
    assert len(scale["before"].resources) > 10 * SITES


def test_the_edit_changes_only_the_sites_lines(scale: dict[str, Any]) -> None:
    changed = [
        line for line in scale["stdout"].splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    # site-137 has no options (`site-137: {}`), so its key line becomes a block.
    cors = f"    {SITE}:\n      cors:\n        origins:\n          - {ORIGIN}\n"
    assert changed == ["-" + f"    {SITE}: {{}}", *("+" + line for line in cors.splitlines())]
    assert scale["path"].read_text() == scale["before_text"].replace(f"    {SITE}: {{}}\n", cors, 1)


def test_exactly_one_resource_is_new_and_every_other_input_is_identical(scale: dict[str, Any]) -> None:
    before, after = _by_key(scale["before"]), _by_key(scale["after"])
    assert set(after) - set(before) == {(CORS, f"{SITE}-public-cors")}
    assert set(before) - set(after) == set()
    changed = [key for key in before if _facts(before[key]) != _facts(after[key])]
    assert changed == []
    cors = after[(CORS, f"{SITE}-public-cors")]
    assert cors.site == SITE
    assert cors.inputs["corsRules"][0]["allowedOrigins"] == [ORIGIN]


def test_only_that_sites_outputs_change(scale: dict[str, Any]) -> None:
    before, after = scale["before"].outputs["sites"], scale["after"].outputs["sites"]
    assert [slug for slug in before if before[slug] != after[slug]] == [SITE]
    assert after[SITE]["cors"]["origins"] == [ORIGIN]


@pytest.mark.parametrize("slug", [SITE, "site-000", "site-199"])
def test_a_site_evaluated_alone_has_the_same_resources_as_in_the_full_stack(scale: dict[str, Any], slug: str) -> None:
    """storagectl targets the resources of a site evaluated on its own; they must be the full stack's."""
    alone = site_resources(read_stack_file(scale["path"]), slug)
    in_full = scale["after"].site_resources(slug)
    assert [(r.type, r.name, *_facts(r)) for r in alone] == [(r.type, r.name, *_facts(r)) for r in in_full]
