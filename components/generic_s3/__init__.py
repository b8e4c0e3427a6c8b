"""Generic-S3 regions (Exoscale SOS, custom endpoints): this project's own provider code.

pulumi-aws >= 7.13 reads every bucket's tags through S3 Control, which generic S3 servers
do not serve, so buckets there are created, diffed, updated, read and deleted by the boto3
code in `providers`, hosted as Pulumi dynamic providers (`resources`). docs/generic-s3.md, "How generic
S3 regions differ", says why a dynamic provider rather than a provider plugin, with figures.
"""
