"""site-storage guardrails: the Pulumi policy pack and the plain checks it is built from.

`policy.model` and `policy.site_storage_policies` hold plain functions over plain data (no
pulumi, no pulumi_policy), so the same checks run in three places: inside the pack
(`pulumi preview --policy-pack policy`), offline in `storagectl preview --policy`, and in tests.
`policy.pack` adapts them to pulumi-policy; `policy/__main__.py` only builds the PolicyPack.
"""
