# Developer and CI entry points for the edgefleet.platform collection.
#
#   make check   the gate before every commit (a few minutes once .venv exists):
#                ruff, mypy, changelog-lint, units, ansible-lint, sanity
#   make test    make check, then compat (the other ansible-core minors), build,
#                integration, images, the Molecule scenarios and the lab test:
#                what CI runs through .ci/run
# Both print a table of the seconds each step took at the end, also when one
# fails (hack/steps.sh). They stop at the first failing step, like make.
# `make test TEST_STEPS="ruff units"` runs and times a chosen list instead.
#
# How tools find the collection
# -----------------------------
# The repo root IS the collection root, but ansible-test and Python imports
# need an ansible_collections/<namespace>/<name> layout. `make tree` copies the
# git-visible files (committed + untracked-but-not-ignored) to
#   .build/ansible_collections/edgefleet/platform          ($(TREE))
# and the targets below use it as follows:
#   sanity       runs ansible-test from inside $(TREE) (it rejects symlinked cwds)
#   units,       run pytest from inside $(TREE) with PYTHONPATH=.build, so
#   integration  `import ansible_collections.edgefleet.platform...` resolves to
#                the copy (as under `ansible-test units`); tracebacks therefore
#                show .build/... paths: edit the files in the repo, not the copy.
#   ANSIBLE_COLLECTIONS_PATH=.build is exported to units/integration so that
#                ansible-playbook / ansible-inventory started by tests find
#                edgefleet.platform; the dependency collections (community.general,
#                kubernetes.core, ...) come from the `ansible` package in .venv.
# Every target re-syncs the tree first, so new/deleted files are picked up.
# By hand: eval "$(hack/collection-tree.sh)" exports ANSIBLE_COLLECTIONS_PATH.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
# The targets share .build and the machine has 2 cores: keep them serial.
.NOTPARALLEL:
.DEFAULT_GOAL := test

ROOT  := $(CURDIR)
VENV  := $(ROOT)/.venv
BIN   := $(VENV)/bin
BUILD := $(ROOT)/.build
TREE  := $(BUILD)/ansible_collections/edgefleet/platform
DIST  := $(BUILD)/dist

# Evaluated when a recipe runs (after `venv`), e.g. "3.13".
VENV_PYVER = $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Env for tests that import the collection or start ansible-* commands.
TEST_ENV = PATH="$(BIN):$$PATH" PYTHONPATH="$(BUILD)" ANSIBLE_COLLECTIONS_PATH="$(BUILD)" EDGEFLEET_REPO_ROOT="$(ROOT)"

# consider_namespace_packages: pytest then names test modules by their full
# package path (ansible_collections.edgefleet.platform.tests.unit.plugins...),
# like `ansible-test units` does, so test files may share a basename across
# directories and helpers import as ansible_collections....tests.unit.<helper>.
# -p no:cacheprovider: no .pytest_cache in the tree.
PYTEST_OPTS = -p no:cacheprovider -o consider_namespace_packages=true
# Extra pytest arguments, e.g. make units PYTEST_ARGS='-n 2 -k ztp'
PYTEST_ARGS ?=

.PHONY: check test venv tree lint ansible-lint ruff mypy sanity changelog-lint build units integration compat clean images lab lab-down molecule lab-test lab-test-run molecule-lab vm-image pxe-e2e pxe-e2e-run

# The steps, in order: cheapest and most likely to fail first. Each is a target
# below, run by hack/steps.sh with $(MAKE) so its time is its own.
CHECK_STEPS ?= venv ruff mypy changelog-lint units ansible-lint sanity
TEST_STEPS ?= $(CHECK_STEPS) compat build integration images vm-image molecule-lab

check:
	MAKE="$(MAKE)" KEEP_GOING="$(KEEP_GOING)" bash hack/steps.sh check $(CHECK_STEPS)

test:
	MAKE="$(MAKE)" KEEP_GOING="$(KEEP_GOING)" bash hack/steps.sh test $(TEST_STEPS)

venv:
	bash hack/venv.sh

tree:
	bash hack/collection-tree.sh >/dev/null

lint: ansible-lint ruff mypy

ansible-lint: venv tree
	PATH="$(BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(BUILD)" $(BIN)/ansible-lint

# ruff and mypy read pyproject.toml. ruff checks the files in the repo; mypy
# runs in .build so that `ansible_collections.edgefleet.platform...` imports
# resolve to the tree copy (its cache is .build/.mypy_cache).
ruff: venv
	$(BIN)/ruff check plugins hack

mypy: venv tree
	cd "$(BUILD)" && $(BIN)/mypy --config-file "$(ROOT)/pyproject.toml" -p ansible_collections.edgefleet.platform.plugins

# --local: ansible-test runs with .venv's Python and creates one cached venv
# per sanity test under ~/.ansible/test/venv; --requirements only adds
# ansible-test's loose controller requirements to .venv (already satisfied by
# requirements-dev.txt), so .venv stays as pinned. The pip shim replaces the
# get-pip download those per-test venvs need (its host is unreachable).
# The second run compiles and imports the modules and module_utils with
# Python 3.9, the oldest a managed host may have (tests/config.yml); ruff's
# py39 target only sees syntax, this also catches e.g. `int | None` at run time.
sanity: venv tree
	for f in tests/sanity/ignore-*.txt; do [ ! -s "$$f" ] || { echo "sanity: $$f must stay empty: fix the finding instead" >&2; exit 1; }; done
	$(BIN)/python hack/ansible-test-pip-shim.py
	command -v shellcheck >/dev/null || bash hack/apt-install.sh shellcheck
	cd "$(TREE)" && PATH="$(BIN):$$PATH" $(BIN)/ansible-test sanity --local --requirements --python "$(VENV_PYVER)" --color no
	py39=$$(bash hack/find-python.sh 3.9) || { echo "sanity: no Python 3.9 (with venv) for the module import test; e.g. pyenv install 3.9" >&2; exit 1; }; \
	cd "$(TREE)" && PATH="$(BIN):$${py39%/*}:$$PATH" $(BIN)/ansible-test sanity --local --python 3.9 --color no --test compile --test import

# Sanity and the plugin unit tests on the older ansible-core minors that
# meta/runtime.yml claims, each in its own cached venv (hack/compat.sh says what
# runs where and checks that the claim and this list agree). .venv's minor
# (2.21) is covered by `make sanity` and `make units`.
# COMPAT_SKIP_TESTS="" runs pylint there too (about 30 s more per minor).
COMPAT_CORE ?= 2.19 2.20
COMPAT_SKIP_TESTS ?= pylint
compat: venv tree
	COMPAT_SKIP_TESTS="$(COMPAT_SKIP_TESTS)" bash hack/compat.sh $(COMPAT_CORE)

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

build: venv tree
	rm -rf "$(DIST)"
	$(BIN)/ansible-galaxy collection build "$(TREE)" --output-path "$(DIST)"

units: venv tree
	cd "$(TREE)" && $(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_OPTS) tests/unit $(PYTEST_ARGS)

# hack/with-pg.sh starts a throwaway PostgreSQL, exports EDGEFLEET_TEST_PG_URL
# and EDGEFLEET_REQUIRE_PG=1, stops the server even on failure and returns
# pytest's exit code.
integration: venv tree
	cd "$(TREE)" && $(TEST_ENV) bash "$(ROOT)/hack/with-pg.sh" $(BIN)/python -m pytest $(PYTEST_OPTS) tests/integration $(PYTEST_ARGS)

clean:
	-bash hack/pg-ephemeral.sh stop
	rm -rf "$(VENV)" "$(BUILD)" tests/output .pytest_cache

# --- the lab: IPC stand-ins as podman containers (see README) ----------------
ANSIBLE_ENV = PATH="$(BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(BUILD)" CONTAINERS_CONF="$(ROOT)/lab/containers.conf"
# Molecule's prerun installs the collection into $ANSIBLE_HOME/collections: a
# home of the project's own, so no stale copy lands in ~/.ansible, where it would
# shadow the tree for ansible-lint and ad-hoc runs.
MOLECULE_ENV = $(ANSIBLE_ENV) ANSIBLE_HOME="$(BUILD)/molecule-home"
LAB_FLEET ?= $(ROOT)/lab/fleet.yml

images:
	bash lab/images/build.sh all

# site.yml runs with the fake ARM's endpoint, CA and throw-away credentials (lab/up.yml
# starts it, a stand-in for Azure) exported from .lab/arm/env (0600), never on a command line.
# Then one VM IPC from nothing through the network boot, when the machine allows
# it (lab/pxe/lab-pxe.sh; on its own private network, with its own boot host).
lab: venv tree images
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook lab/up.yml -e lab_fleet="$(LAB_FLEET)"
	set -a && . .lab/arm/env && set +a && $(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/site.yml -i inventories/lab/lab.ztp.yml
	$(ANSIBLE_ENV) bash lab/pxe/lab-pxe.sh

lab-down: venv tree
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook lab/down.yml -e lab_fleet="$(LAB_FLEET)"

# Molecule scenarios (molecule/<name>), run from the repository root: the
# podman ones on the lab images, `vm` and `k3s_real` on a QEMU guest (lab/vm,
# image cached in ~/.cache/edgefleet/vm) in the background meanwhile
# (hack/molecule-all.sh). Roles and plugins come from the collection tree.
# k3s_real needs real K3s (a bundle or the internet): without it, it is
# skipped with the reason (hack/k3s-real-available.sh). Molecule keeps what
# only it shows (a fresh host, a role on its own, refusals, the SSH rollback,
# the VM's kernel and reboot); the end-to-end checks of the roles run once,
# on the lab test's converged fleet (lab-test below). `discover` (the discover
# checks on one container; the lab test runs them on its fleet) is a quick
# smoke run for development, not in the default list.
SCENARIOS ?= os_hardening k3s_single pxe_server vm k3s_real
molecule: venv tree images vm-image
	$(MOLECULE_ENV) bash hack/molecule-all.sh $(SCENARIOS)

vm-image:
	bash lab/vm/build-image.sh >/dev/null

# Network boot end to end: a QEMU IPC with a blank disk boots through proxy-DHCP
# on a private network namespace, the deployer writes the golden image, it
# phones home, a second power-on boots its disk; an unknown machine waits
# unassigned (lab/pxe/e2e.sh; as root, a heavy job). make test runs it in the
# background after the VM tier (molecule-lab below); make lab runs it when the
# machine allows it (lab/pxe/lab-pxe.sh says why not otherwise).
pxe-e2e: venv tree images vm-image
	$(ANSIBLE_ENV) bash lab/pxe/e2e.sh

pxe-e2e-run:
	$(ANSIBLE_ENV) bash lab/pxe/e2e.sh

# The README's main job end to end, on its own fleet (tests/lab/fleet.yml) and
# its own lab state in the tree copy, so a running `make lab` is left alone:
# site.yml converges the fleet once, then every role's check suite
# (molecule/resources/checks/*.yml, shared with Molecule) runs against it, then
# the zero-change re-run and --check. Logs: tests/output/lab/ in the tree.
# hack/pytest_timings.py adds a row per test to make test's timing table.
LAB_TEST = cd "$(TREE)" && $(TEST_ENV) PYTHONPATH="$(BUILD):$(ROOT)/hack" CONTAINERS_CONF="$(ROOT)/lab/containers.conf" \
	$(BIN)/python -m pytest $(PYTEST_OPTS) -p pytest_timings tests/lab $(PYTEST_ARGS)
lab-test: venv tree images
	$(LAB_TEST)

# make test's step for both: the VM tier (vm, k3s_real: a QEMU guest under TCG,
# the longest part), then the network boot end to end (pxe-e2e-run), run in the
# background while the container scenarios and then the lab test run in the
# foreground, instead of the lab test waiting for them. lab-test-run and
# pxe-e2e-run are the tests without their prerequisites, which molecule-lab made
# before the background started (a rebuilt tree under a running scenario would
# pull its files away).
molecule-lab: venv tree images vm-image
	$(MOLECULE_ENV) MAKE="$(MAKE)" MOLECULE_THEN=lab-test-run MOLECULE_BACKGROUND_THEN=pxe-e2e-run bash hack/molecule-all.sh $(SCENARIOS)

lab-test-run:
	$(LAB_TEST)
