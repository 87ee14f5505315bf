# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chat lint messages install bench-deps clean-venv

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: install, migrate, load demo data into an empty database, serve
run: $(STAMP)
	$(BIN)/sipas-bot db upgrade
	$(BIN)/sipas-bot demo --if-empty
	$(BIN)/sipas-bot serve

## test: install, then the whole suite (PostgreSQL tests need SIPAS_TEST_POSTGRES_URL), on
## PYTEST_WORKERS processes (pytest-xdist; 0 runs it in this process)
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## chat: talk to the bot on the console, with a fresh demo survey code
chat: $(STAMP)
	@$(BIN)/sipas-bot db upgrade >/dev/null
	@$(BIN)/sipas-bot demo --if-empty >/dev/null
	@$(BIN)/sipas-bot invite create --unit DN.HAICHAU --procedure DEMO-HT-01 2>/dev/null | head -n 1 || true
	$(BIN)/sipas-bot chat

## bench-deps: what the scripts in bench/ need besides the project (DuckDB, psutil)
bench-deps: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,bench]'

# Files allowed past 400 lines, each with its reason in docs/architecture.md (none today).
LONG_FILES :=

## lint: style, formatting, the import layers (no cycles, nothing imports upward), file sizes
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@over=$$(find bot flows storage scheduler -name '*.py' -not -path '*/migrations/*' \
		$(foreach f,$(LONG_FILES),-not -path './$(f)' -not -path '$(f)') \
		-exec wc -l {} + | awk '$$2 != "total" && $$1 > 400 {print "  " $$2 ": " $$1 " lines"}'); \
	if [ -n "$$over" ]; then echo "Files over 400 lines (split them by role):"; echo "$$over"; exit 1; fi

## messages: re-extract translatable strings and merge them into the catalogues
messages: $(STAMP)
	$(BIN)/pybabel extract -F pyproject.toml -k N_ -k _ -k gettext -k ngettext:1,2 \
		--no-location --omit-header --sort-output -o locales/sipas.pot bot flows scheduler storage
	$(BIN)/pybabel update -i locales/sipas.pot -d locales -D sipas --ignore-obsolete \
		--no-fuzzy-matching

clean-venv:
	rm -rf $(VENV)
