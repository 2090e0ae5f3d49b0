# The two commands of the README:
#   make demo   set up (Debian packages, venv, cluster binaries) and run the quickstart
#               (`make demo-thick`: the same through multus-shim + multusctl daemon)
#   make test   set up everything (incl. the Go-built control plane) and run lint + all tests
#   make bench  side-by-side benchmark against upstream Go Multus (root; see bench/README.md)
SHELL := /bin/bash
PY := .venv/bin/python
APT_PACKAGES := containernetworking-plugins iproute2 etcd-server openssl curl

.PHONY: demo demo-thick demo-delegates test setup venv apt cluster-bin upstream-bin bench lint unit pytest clean

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: .venv/.installed

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

cluster-bin:
	bash tests/cluster/build.sh

upstream-bin:
	bash tests/cluster/build-upstream.sh

setup: apt venv cluster-bin

# BENCH_ARGS are passed to bench/run.py, e.g. make bench BENCH_ARGS="--quick"
bench: apt venv cluster-bin upstream-bin
	$(PY) bench/run.py --write-docs $(BENCH_ARGS)

# The upstream quickstart guide end to end (real API server, node netns, cnitool);
# `make demo-thick` runs it through the thick plugin (the guide's own manifest);
# `make demo-delegates` is the shorter delegates-mode demo without Kubernetes.
demo: apt venv cluster-bin
	bash scripts/quickstart.sh

demo-thick: apt venv cluster-bin
	bash scripts/quickstart.sh --thick

demo-delegates: apt venv
	bash scripts/demo.sh

lint: venv
	.venv/bin/ruff check multusctl tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

pytest: venv
	$(PY) -m pytest

test: setup lint pytest

unit: venv
	$(PY) -m pytest tests/unit

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
