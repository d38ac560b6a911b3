# kubeforge.cluster: one command for all the tests on a fresh Debian machine.
#   make test        everything: test bed, lint, unit tests, collection build, Molecule
# Narrower targets: setup, lint, unit, build, sanity, molecule, scenario S=<name>.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
# MOLECULE_JOBS run at a time, longest first, but the two on emulated ARM third and fourth: on a fresh
# machine their images are still building in the background when the first ones start (setup.sh).
SCENARIOS ?= kubeadm-ha k3s-ha-etcd k3s-arm rpi-prep kubeadm k3s-external-db validation k3s-external-etcd k3s-single containerd kube-artifacts
MOLECULE_JOBS ?= 2
MIRROR_PORT ?= 8765
export KUBEFORGE_MIRROR_PORT := $(MIRROR_PORT)
RELEASES := $(CURDIR)/.cache/releases

.PHONY: test setup lint unit build sanity doubles molecule scenario mirror-start mirror-stop clean

test: setup lint unit build sanity molecule
	@echo "make test: all stages passed"

setup:
	tests/testbed/setup.sh

lint:
	yamllint -s .
	ansible-lint --profile production

unit:
	pytest -q tests/unit

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
	python3 tests/doubles/build.py --out $(RELEASES) --kubectl $(VENV)/bin/kubectl --debian-containerd

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
