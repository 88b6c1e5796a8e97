# ecs-sentinel: every target installs what it needs, so a fresh clone needs only
# Rust (with cargo-nextest), Python 3.11 with pip, gcc and git.

VENV   := .venv
PY     := $(VENV)/bin/python
# Template linters that pin their own dependencies (checkov pins boto3) get an environment
# of their own, so the emulator's stays exactly as pinned.
LINT_VENV  := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed-$(shell cat tests/lint/requirements.txt tests/lint/constraints.txt | cksum | cut -d" " -f1)
STAMP  := $(VENV)/.installed-$(shell cat tests/emulator/requirements.txt tests/emulator/constraints.txt | cksum | cut -d" " -f1)
CARGO  ?= cargo

.PHONY: help venv demo test lint unit integration build release package bench clean

help:
	@echo "make demo     run the whole pipeline on this machine against the AWS emulator (no AWS account)"
	@echo "make test     formatting, clippy, template lint, unit and emulator integration tests"
	@echo "make release  build the Lambda's release binary (target/release/bootstrap)"
	@echo "make clean    remove build outputs and the emulator's Python environment"

# The AWS emulator (moto, pinned) and cfn-lint live in a project-local virtual environment.
$(STAMP): tests/emulator/requirements.txt tests/emulator/constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt -c tests/emulator/constraints.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

$(LINT_STAMP): tests/lint/requirements.txt tests/lint/constraints.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/lint/requirements.txt -c tests/lint/constraints.txt
	rm -f $(LINT_VENV)/.installed-*
	touch $@

demo: venv
	$(CARGO) build --quiet -p sentinel-cli --bin ecs-sentinel
	./target/debug/ecs-sentinel demo

lint: venv $(LINT_STAMP)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

release:
	$(CARGO) build --release -p agent-monitor --bin bootstrap

# The integration tests also run the release `bootstrap` through a Lambda Runtime API server.
test: lint release
	$(CARGO) nextest run --workspace --no-fail-fast

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(LINT_VENV)
