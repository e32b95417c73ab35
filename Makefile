# Developer and CI entry points for the edgefleet.platform collection.
#
#   make test    venv + tree + lint + sanity + changelog-lint + build + units + integration
#                (what CI runs through .ci/run)
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

.PHONY: test venv tree lint sanity changelog-lint build units integration clean images lab lab-down molecule lab-test vm-image

test: venv tree lint sanity changelog-lint build units integration molecule lab-test

venv:
	bash hack/venv.sh

tree:
	bash hack/collection-tree.sh >/dev/null

lint: venv tree
	PATH="$(BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(BUILD)" $(BIN)/ansible-lint

# --local: ansible-test runs with .venv's Python and creates one cached venv
# per sanity test under ~/.ansible/test/venv; --requirements only adds
# ansible-test's loose controller requirements to .venv (already satisfied by
# requirements-dev.txt), so .venv stays as pinned. The pip shim replaces the
# get-pip download those per-test venvs need (its host is unreachable).
sanity: venv tree
	$(BIN)/python hack/ansible-test-pip-shim.py
	command -v shellcheck >/dev/null || bash hack/apt-install.sh shellcheck
	cd "$(TREE)" && PATH="$(BIN):$$PATH" $(BIN)/ansible-test sanity --local --requirements --python "$(VENV_PYVER)" --color no

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
LAB_FLEET ?= $(ROOT)/lab/fleet.yml

images:
	bash lab/images/build.sh all

lab: venv tree images
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook lab/up.yml -e lab_fleet="$(LAB_FLEET)"
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/site.yml -i inventories/lab/lab.ztp.yml

lab-down: venv tree
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook lab/down.yml -e lab_fleet="$(LAB_FLEET)"

# Molecule scenarios (molecule/<name>), run from the repository root: the
# podman ones on the lab images, `vm` and `k3s_real` on a QEMU guest (lab/vm,
# image cached in ~/.cache/edgefleet/vm) in the background meanwhile
# (hack/molecule-all.sh). Roles and plugins come from the collection tree.
# k3s_real needs real K3s (a bundle or the internet): without it, it is
# skipped with the reason (hack/k3s-real-available.sh). `discover` (one
# container, the checks multi_node runs on three) is a quick smoke run for
# development, not in the default list.
SCENARIOS ?= multi_node os_hardening k3s_single k3s_ha vm k3s_real
molecule: venv tree images vm-image
	$(ANSIBLE_ENV) bash hack/molecule-all.sh $(SCENARIOS)

vm-image:
	bash lab/vm/build-image.sh >/dev/null

# The README's main job end to end, on its own fleet (tests/lab/fleet.yml) and
# its own lab state in the tree copy, so a running `make lab` is left alone.
lab-test: venv tree images
	cd "$(TREE)" && $(TEST_ENV) CONTAINERS_CONF="$(ROOT)/lab/containers.conf" $(BIN)/python -m pytest -p no:cacheprovider -o consider_namespace_packages=true tests/lab $(PYTEST_ARGS)

