# Sparse Circuits: `make run` and `make test` set up everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch 2.13.0 (a local file on our build machines); with a GPU, install the
# CUDA build of the same version, e.g. `make package VENV=.venv-cuda
# TORCH_INDEX=https://download.pytorch.org/whl/cu128` (see packaging/README.md).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.setup-done
RUN    := runs/tiny-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup run train-tiny test bench clean default-model package

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[gui,test,package,plots]"
	touch $(STAMP)

run: setup
	$(BIN)/sparse-circuits-gui

# The headless equivalent: train the tiny preset and describe the result.
train-tiny: setup
	$(BIN)/sparse-circuits train --preset tiny --out $(RUN)
	$(BIN)/sparse-circuits info $(RUN)

# The layering first (pyproject.toml's [tool.importlinter]: core never imports app or Qt).
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/sparse-circuits bench train --json
	$(BIN)/sparse-circuits bench inference --json
	$(BIN)/sparse-circuits bench gui --json

# The Linux artifacts (one-folder bundle, .tar.gz, .deb) into dist/; see packaging/README.md.
package: setup
	$(BIN)/python packaging/build.py --out dist

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

# Retrain and re-prune the shipped default model (about 2 hours on 2 CPU cores: 64 min of
# training, then about 55 min of pruning with checks, two tasks at a time, two seeds each and
# more for three circuits near their targets). At 1/24 of each weight matrix nonzero rather
# than the preset's 1/16: at 1/16 the bracket circuit kept 174 weight edges, at 1/32 only 7
# tasks were learned. REPORT.md has this build's figures.
default-model: setup
	$(BIN)/python -m core.build_default --run runs/default-model --out resources/default_model --jobs 2 \
		--l0-target 0.041666667 --prune-seeds 0,1 --task-seeds single_double_quote=0,1,2,3,4 \
		--task-seeds bracket_counting=0,1,2,3 --task-seeds append_or_add=0,1,2
