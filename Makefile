# Sparse Circuits: `make run` and `make test` set up everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch 2.13.0 (a local file on our build machines); with a GPU, install the
# CUDA build of the same version into .venv instead (see README).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.setup-done
RUN    := runs/tiny-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup run train-tiny test bench clean default-model

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[gui,test]"
	touch $(STAMP)

run: setup
	$(BIN)/sparse-circuits-gui

# The headless equivalent: train the tiny preset and describe the result.
train-tiny: setup
	$(BIN)/sparse-circuits train --preset tiny --out $(RUN)
	$(BIN)/sparse-circuits info $(RUN)

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/sparse-circuits bench train --json
	$(BIN)/sparse-circuits bench gui --json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Retrain and re-prune the shipped default model (about 45 minutes on 2 CPU cores).
default-model: setup
	$(BIN)/python -m core.build_default --run runs/default-model --out resources/default_model
