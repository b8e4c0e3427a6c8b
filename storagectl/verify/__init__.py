"""`storagectl verify`: prove on the live endpoint what the stack promises each site.

outputs.py reads the stack outputs (Pulumi CLI or a saved file); plan.py joins them with the
stack config into one target per site; checks.py (data path) and config_checks.py (bucket
settings) hold the checks; runner.py runs sites concurrently with clients from clients.py;
report.py prints results without credentials; command.py is the CLI entry point.
"""
