# kubeforge.cluster: one command for all the tests on a fresh Debian machine.
#   make test        everything: test bed, lint, unit tests, collection build, benchmark smoke run, Molecule
#   make bench       the benchmark (tests/bench): every cluster shape against the floor, docs/benchmarks.md
# Narrower targets: setup, lint, unit, build, sanity, bench-smoke, molecule, scenario S=<name>.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
# MOLECULE_JOBS run at a time, longest first (validation runs site.yml 49 times), but the two on emulated
# ARM after the first quarter of an hour: on a fresh machine their images build in the background
# meanwhile (setup.sh), and a scenario that waits for its image holds a slot.
SCENARIOS ?= validation reset k3s-ha-etcd kubeadm-ha kubeadm hub-spoke backup-restore airgap k3s-external-db k3s-arm rpi-prep k3s-external-etcd k3s-single containerd kube-artifacts
MOLECULE_JOBS ?= 2
MIRROR_PORT ?= 8765
export KUBEFORGE_MIRROR_PORT := $(MIRROR_PORT)
RELEASES := $(CURDIR)/.cache/releases

.PHONY: test setup lint unit build sanity doubles bench bench-smoke molecule scenario mirror-start mirror-stop clean

test: setup lint unit build sanity bench-smoke molecule
	@echo "make test: all stages passed"

setup:
	tests/testbed/setup.sh

lint:
	yamllint -s .
	ansible-lint --profile production

unit:
	tests/testbed/unit.sh

# build also checks execution-environment.yml: ansible-builder validates it and writes its build context
# to build/ee (no container runtime needed), and check_ee.py holds it to galaxy.yml and requirements.txt.
build:
	rm -rf build && mkdir -p build
	ansible-galaxy collection build --output-path build . > /dev/null
	python3 tests/testbed/check_tarball.py build/kubeforge-cluster-*.tar.gz
	ansible-builder create --file execution-environment.yml --context build/ee --output-filename Containerfile > /dev/null
	python3 tests/testbed/check_ee.py execution-environment.yml galaxy.yml requirements.txt

sanity: build
	tests/testbed/timed.sh sanity tests/testbed/sanity.sh build/kubeforge-cluster-*.tar.gz

doubles:
	python3 tests/doubles/build.py --out $(RELEASES) --kubectl $(VENV)/bin/kubectl --helm $(VENV)/bin/helm --debian-containerd

# The benchmark starts its own containers and its own loopback mirror (never the one above); BENCH_ARGS
# narrows it, e.g. BENCH_ARGS="--shapes k3s-1,k3s-1+2 --runs 1 --out /tmp/b.md". The smoke run (one shape,
# one run, no report file) is part of make test so the harness cannot rot.
bench: setup doubles
	tests/testbed/timed.sh bench python3 tests/bench/bench.py $(BENCH_ARGS)

bench-smoke: doubles
	tests/testbed/timed.sh bench-smoke python3 tests/bench/bench.py --smoke

mirror-start: doubles
	tests/testbed/mirror.sh start $(RELEASES) $(MIRROR_PORT)

mirror-stop:
	tests/testbed/mirror.sh stop $(RELEASES) $(MIRROR_PORT)

molecule: mirror-start
	set -e; trap '$(MAKE) -s mirror-stop' EXIT; tests/testbed/scenarios.sh $(MOLECULE_JOBS) $(SCENARIOS)

scenario: mirror-start
	set -e; trap '$(MAKE) -s mirror-stop' EXIT; tests/testbed/scenario.sh $(S)

clean:
	rm -rf build .cache
