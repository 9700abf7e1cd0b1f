# Hotline: `make demo` and `make test` are all a new user needs. Both set up .venv from the lock file
# and install the Debian packages of scripts/debian-packages.txt that the machine lacks (as root).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_STAMP := $(VENV)/.debian-packages
DEV_DEBIAN_STAMP := $(VENV)/.debian-packages-dev

.PHONY: venv demo test lint typecheck contracts pytest soak bench fuzz vectors lock clean debian-packages

$(BIN)/python:
	@bash scripts/make-venv.sh $(PYTHON) $(VENV)

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Only the virtualenv with the `hotline` command (.venv/bin/hotline), for using stations.
venv: $(STAMP)

# Checked again only when the list changes; `make debian-packages` checks now.
$(DEBIAN_STAMP): scripts/debian-packages.txt scripts/debian-packages.sh
	@bash scripts/debian-packages.sh scripts/debian-packages.txt $(DEBIAN_STAMP)

$(DEV_DEBIAN_STAMP): scripts/debian-packages-dev.txt scripts/debian-packages.sh
	@bash scripts/debian-packages.sh scripts/debian-packages-dev.txt $(DEV_DEBIAN_STAMP)

debian-packages:
	@bash scripts/debian-packages.sh scripts/debian-packages.txt $(DEBIAN_STAMP)
	@bash scripts/debian-packages.sh scripts/debian-packages-dev.txt $(DEV_DEBIAN_STAMP)

demo: $(DEBIAN_STAMP) $(STAMP)
	$(BIN)/hotline demo

test: $(DEBIAN_STAMP) $(DEV_DEBIAN_STAMP) $(STAMP) lint typecheck contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

contracts: $(STAMP)
	$(BIN)/lint-imports

# One worker per core and one more, each taking whole test files: most integration tests wait on
# real daemons and timers, so the cores idled nearly a third of the time with one worker each
# (measured on two cores: 9 min against 11). PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
pytest: $(DEBIAN_STAMP) $(DEV_DEBIAN_STAMP) $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m "not soak" -n $(PYTEST_WORKERS) --dist loadfile

# Long fault-injection runs (minutes each): partitions, corruption, a 10-minute cut.
soak: $(DEBIAN_STAMP) $(DEV_DEBIAN_STAMP) $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m soak

bench: $(DEBIAN_STAMP) $(DEV_DEBIAN_STAMP) $(STAMP)
	$(BIN)/python -m bench

# Coverage-guided fuzzing (atheris): every target in fuzz/ for FUZZ_SECONDS each, then a table.
# FUZZ_SUPPRESS=UnicodeDecodeError,... treats those exception types as already reported.
FUZZ_SECONDS ?= 60
FUZZ_SUPPRESS ?=
fuzz: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check 'atheris>=3.0.0'
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS) --suppress '$(FUZZ_SUPPRESS)'

# Rebuild the conformance vectors of docs/vectors/ (only on a deliberate change of the wire, with
# docs/protocol.md in the same commit); `make test` checks they are what the code makes.
vectors: $(STAMP)
	$(BIN)/python -m tests.conformance.generate

# Regenerate requirements.lock from pyproject.toml (needs network access to the package index).
lock: $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --python-version 3.11 --generate-hashes --extra dev \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .mypy_cache .ruff_cache .hypothesis
