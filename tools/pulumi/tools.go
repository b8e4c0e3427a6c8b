//go:build tools

// The Pulumi CLI, pinned by this module's go.mod and go.sum and built with `go build`
// (tools/pulumi/build.py). Its go.mod carries replace directives, so `go install pkg@version`
// refuses it; requiring it from a module of our own, with the one non-relative replace
// repeated in our go.mod, is how pulumi/pulumi-docker-build builds it too.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
