# Every target sets up .venv itself, so a fresh clone needs only `make preview` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
EXAMPLE_STACKS := aws-eu-central-1 exoscale-ch-gva-2 local

.PHONY: setup preview test lint bench local-s3 rgw rgw-stop clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

preview: $(STAMP)
	@for stack in $(EXAMPLE_STACKS); do $(BIN)/storagectl preview --policy --stack $$stack || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# A local S3 (moto) on 127.0.0.1:5000 for the `local` example stack.
local-s3: $(STAMP)
	$(BIN)/moto_server -H 127.0.0.1 -p 5000

# A real Ceph RGW (S3) on 127.0.0.1 for the tests (README: "A real S3 server in the tests: Ceph RGW").
# The system python3 runs it: it needs no virtualenv, only the Debian Ceph packages.
rgw:
	$(PYTHON) ci/ceph_rgw.py start

rgw-stop:
	$(PYTHON) ci/ceph_rgw.py stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
