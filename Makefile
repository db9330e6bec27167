# One command to set up and run the main job (`make run`), one to run the tests (`make test`).
PYTHON ?= python3
VENV := .venv
EXTRAS ?= dev,ray,tensorboard,wandb

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch is pinned (here it resolves to the local CPU build; an unpinned torch pulls gigabytes of CUDA packages)
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[$(EXTRAS)]"
	touch $@

.PHONY: setup run test lint bench
setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/spikereplay train --config configs/quick.yaml

test: setup
	$(VENV)/bin/python -m pytest tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples *.py

bench: setup
	$(VENV)/bin/spikereplay bench
