# flawn: the two commands are `make demo` and `make test`; each sets itself up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.flawn-installed
# pytest workers for `make test`; each takes whole test files, so a file's tests run in order.
TEST_WORKERS ?= 2

.PHONY: demo test lint format constraints clean-runs help browser kernel

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(STAMP)  ## run the demo sweep: two mixtures, tiny T5, eval, delta table
	$(BIN)/flawn demo

# A Jupyter kernel named `flawn` running this .venv's Python (an absolute path), so the notebook
# finds flawn from any folder; JUPYTER_DATA_DIR moves where the spec goes. It sets up .venv
# only if it was never set up, so it never reinstalls into a venv that is in use.
kernel:  ## install the `flawn` Jupyter kernel (this .venv's Python) for analysis/*.ipynb
	test -e $(STAMP) || $(MAKE) $(STAMP)
	$(BIN)/python -m ipykernel install --user --name flawn --display-name 'Python (flawn)'

# The web UI's test drives Debian's Chromium; installed here when missing (as root or with
# passwordless sudo), otherwise that one test is skipped and says why.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

browser:  ## install Debian's chromium and chromium-driver if missing (for the web UI test)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; } \
	  >/dev/null 2>&1 || echo "chromium not installed: tests/test_serve_browser.py will be skipped"

test: $(STAMP) browser  ## run lint and the test suite
	$(BIN)/ruff check flawn tests mixtures experiments analysis bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)  ## ruff lint + format check
	$(BIN)/ruff check flawn tests mixtures experiments analysis bench
	$(BIN)/ruff format --check flawn tests mixtures experiments analysis bench

format: $(STAMP)  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format flawn tests mixtures experiments analysis bench
	$(BIN)/ruff check --fix flawn tests mixtures experiments analysis bench

constraints: $(STAMP)  ## re-pin every transitive dependency from the current venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^flawn' > constraints.txt.new
	{ echo '# Every package the pinned stack pulls in, at the versions tested together here.'; \
	  echo '# Regenerate with: make constraints'; cat constraints.txt.new; } > constraints.txt
	rm constraints.txt.new

clean-runs:  ## delete demo outputs under runs/
	rm -rf runs
