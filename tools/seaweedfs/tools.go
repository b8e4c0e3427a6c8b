//go:build tools

// SeaweedFS's `weed` command, pinned by this module's go.mod and go.sum and built with `go build`
// (python3 tools/gobuild.py seaweedfs; `make seaweedfs`). The module is served by the Go module
// proxy only as a pseudo-version (no tagged release), and its go.mod carries one non-relative
// replace (go-bip39), repeated here: `go install pkg@version` refuses a module with replaces.
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
