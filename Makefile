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

.PHONY: setup run test lint bench fashion-mnist
setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/spikereplay train --config configs/quick.yaml

test: setup
	$(VENV)/bin/python -m pytest tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples *.py

bench: setup
	$(VENV)/bin/spikereplay bench

# Fashion-MNIST (data.dataset: fashion_mnist) from Debian's package, where apt exists and we are root;
# elsewhere, say how to get it (it is not needed for MNIST runs or for make run)
fashion-mnist:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then echo "Fashion-MNIST: /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } \
			|| echo "warning: apt-get could not install dataset-fashion-mnist; its tests will skip"; \
	else echo "Fashion-MNIST: run 'sudo apt-get install dataset-fashion-mnist', or put its four idx files in a directory and set SPIKEREPLAY_FASHION_MNIST"; fi
