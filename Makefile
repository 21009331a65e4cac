# The two commands of the README, and what they need. Both install what they need.
#   make demo   the main job end to end on local defaults (local AWS emulator + Encord stand-in)
#   make test   everything: lint, types, the launch template is current, unit tests, cdk-nag,
#               cfn-lint, the real deploy tests
#   make template   writes dist/encord-access.template.{yaml,json} (commit them)
#   make compliance-doc   regenerates the rule tables of docs/compliance.md (commit them)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := 1

.PHONY: all install demo emulators test lint types template template-check compliance-doc unit synth bench lock clean

all: test

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(STAMP) node_modules/.package-lock.json

demo: install
	$(BIN)/python -m demo

emulators: install
	$(BIN)/python -m demo.emulators

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -n 2 --dist loadgroup

# The launch-stack template (release artifact): built from the same construct as the app.
template: $(STAMP)
	$(BIN)/python -m stacks.launch_template --out dist

template-check: $(STAMP)
	$(BIN)/python -m stacks.launch_template --out dist --check

# docs/compliance.md's rule tables, from cdk-nag's packs and the code's acknowledgements
# (tests/stack/test_compliance.py fails when they are not current).
compliance-doc: $(STAMP)
	$(BIN)/python -m stacks.compliance_doc

test: lint types template-check unit

# The sample's externalId is a placeholder the app refuses; pass a stand-in for Encord's.
synth: install
	npx cdk synth --quiet -c encord.externalId=sample-external-id-0000

bench: $(STAMP)
	$(BIN)/python -m bench

lock: $(STAMP)
	( echo "# Pinned versions of every Python dependency (pip constraints). Regenerate with: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^encord-s3-register' ) > requirements.lock

clean:
	rm -rf $(VENV) node_modules cdk.out .mypy_cache .ruff_cache .pytest_cache
