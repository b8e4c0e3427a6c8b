# Every target sets up .venv itself, so a fresh clone needs only `make preview` and `make test`.
# Dependencies come from uv.lock (every transitive version pinned) through uv, which `make` installs
# from PyPI into .uv/ at the pinned version: nothing needs to be on the machine but python3.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt whenever the lock changes (uv.lock already reflects pyproject.toml, `make lint` checks it).
STAMP := $(VENV)/.installed-$(shell cksum < uv.lock | cut -d' ' -f1)
# uv must neither download a Python of its own (python3 is the one the project runs on) nor
# look for a newer uv on every call.
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1
EXAMPLE_STACKS := aws-eu-central-1 exoscale-ch-gva-2 local

.PHONY: setup lock preview test lint bench local-s3 rgw rgw-stop seaweedfs seaweedfs-stop pulumi clean

setup: $(STAMP)

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet uv==$(UV_VERSION)

# --frozen: install exactly what uv.lock says, never re-resolve (what Pulumi's `toolchain: uv` runs too).
$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --quiet --python $(PYTHON)
	rm -f $(VENV)/.installed-*
	touch $@

# After editing pyproject.toml: re-resolve and rewrite uv.lock (then commit both).
lock: $(UV)
	$(UV) lock --python $(PYTHON)

preview: $(STAMP)
	@for stack in $(EXAMPLE_STACKS); do $(BIN)/storagectl preview --policy --stack $$stack || exit 1; done

lint: $(STAMP)
	$(UV) lock --check --python $(PYTHON)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	@# The Go tools (tools/*): formatted and vetted wherever Go is installed (CI always has it).
	@if command -v go >/dev/null; then \
	  test -z "$$(gofmt -l tools)" || { gofmt -l tools; echo "gofmt: the files above need formatting"; exit 1; }; \
	  (cd tools/pulumi && GOFLAGS="-mod=readonly -buildvcs=false" go vet ./cmd/...) && \
	  (cd tools/delayproxy && GOFLAGS="-mod=readonly -buildvcs=false" go vet .); \
	fi

test: lint
	$(BIN)/python -m pytest

# The benches also need SeaweedFS's `weed` (built here, not started: each bench runs a server of its own)
# and the Pulumi CLI for the engine bench.
bench: $(STAMP) pulumi
	$(PYTHON) tools/gobuild.py seaweedfs
	$(BIN)/python -m benchmarks.run

# A local S3 (moto) on 127.0.0.1:5000 for the `local` example stack.
local-s3: $(STAMP)
	$(BIN)/moto_server -H 127.0.0.1 -p 5000

# A real Ceph RGW (S3) on 127.0.0.1 for the tests (docs/testing.md).
# The system python3 runs it: it needs no virtualenv, only the Debian Ceph packages.
rgw:
	$(PYTHON) ci/ceph_rgw.py start

rgw-stop:
	$(PYTHON) ci/ceph_rgw.py stop

# A real SeaweedFS S3 server on 127.0.0.1 for the tests and benchmarks (docs/testing.md): `weed` built from
# its pinned Go module into .tools/seaweedfs/bin (tools/gobuild.py; minutes the first time, nothing after),
# then started, or reused when one runs. The system python3 runs both: no virtualenv needed.
seaweedfs:
	$(PYTHON) tools/gobuild.py seaweedfs
	$(PYTHON) ci/seaweedfs.py start

seaweedfs-stop:
	$(PYTHON) ci/seaweedfs.py stop

# The Pulumi CLI and a Python language host built from Go modules into .pulumi/bin (tools/pulumi/build.py;
# about 5 minutes and 140 MB the first time, seconds after that). A `pulumi` already on PATH is used instead.
# The engine tests (tests/engine) run with it; put .pulumi/bin on PATH to use it yourself.
pulumi:
	$(PYTHON) tools/pulumi/build.py

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache .pulumi .tools .venv-clients
