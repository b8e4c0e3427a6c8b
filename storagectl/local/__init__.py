"""`storagectl local`: a local stack's storage on a local S3 server, without the Pulumi CLI."""
