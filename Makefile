# The two set-up commands of the README:
#   make demo   - the main job: the bundled example repository on a local control plane
#   make test   - lint, types and the whole test suite (what CI runs, via .ci/run)
# Both create the virtualenv and build the control plane on first use (cached afterwards).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup controlplane demo test lint unit bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from their Go
# modules once per version (~10 minutes cold on 2 cores), then reuses the cache.
controlplane: setup
	$(BIN)/gitops-runner cluster build

demo: setup controlplane
	$(BIN)/gitops-runner demo

lint: setup
	$(BIN)/ruff check runner tests bench peers
	$(BIN)/mypy

test: lint controlplane
	$(BIN)/pytest -p no:cacheprovider

bench: setup controlplane
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
