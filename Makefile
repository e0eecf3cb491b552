# The two commands of the README. Each sets itself up on a fresh machine with python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.jaxisac-installed
PYTEST_ARGS ?= -n 2

.PHONY: test demo install test-all test-notebooks notebooks clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,plot,notebook]"
	touch $(STAMP)

install: $(STAMP)

# Default suite (not slow, not gpu); x64 is enabled by tests/conftest.py.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Execute every notebook from a clean kernel (CI runs this after `make test`).
test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m notebook tests/test_notebooks.py

# Rebuild the committed notebooks (with outputs) from notebooks/src/.
notebooks: $(STAMP)
	$(BIN)/python notebooks/build.py

# Everything, including full-size reproductions.
test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not gpu"  # slow + notebooks too

# The batched demonstration on CPU: prints a table and writes plots under results/.
demo: $(STAMP)
	$(BIN)/python experiments/demo.py

clean:
	rm -rf $(VENV) results build *.egg-info
