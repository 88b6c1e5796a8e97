# ecs-sentinel: every target installs what it needs, so a fresh clone needs only
# Rust (with cargo-nextest), Python 3.11 with pip, gcc and git.

VENV   := .venv
PY     := $(VENV)/bin/python
# Template linters that pin their own dependencies (checkov pins boto3) get an environment
# of their own, so the emulator's stays exactly as pinned.
LINT_VENV  := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed-$(shell cat dev/lint/requirements.txt dev/lint/constraints.txt | cksum | cut -d" " -f1)
STAMP  := $(VENV)/.installed-$(shell cat dev/emulator/harness/requirements.txt dev/emulator/harness/constraints.txt | cksum | cut -d" " -f1)
# cargo-lambda and Zig, for `make package` only.
PACKAGE_VENV  := .venv-package
PACKAGE_STAMP := $(PACKAGE_VENV)/.installed-$(shell cat deploy/requirements.txt deploy/constraints.txt | cksum | cut -d" " -f1)
# The zip's architecture: x86_64 builds anywhere; arm64 (the template's default, cheaper on
# Lambda) needs the aarch64-unknown-linux-gnu Rust target (`rustup target add ...`).
ARCH   ?= x86_64
EXPANDED := dist/ecs-sentinel.json
CARGO  ?= cargo

.PHONY: help venv demo test bench lint release package expand clean

help:
	@echo "make demo     run the whole pipeline on this machine against the AWS emulator (no AWS account)"
	@echo "make test     formatting, clippy, template lint, unit and emulator integration tests"
	@echo "make bench    run the release binaries cold against the emulator: time, memory, AWS calls vs the lower bound"
	@echo "              (BENCH_ARGS='--runs 5 --only storm' to choose)"
	@echo "make release  build the Lambdas' release binaries (target/release/bootstrap, task-monitor, fleet-recorder)"
	@echo "make package  build one deployment zip per function with cargo-lambda into dist/ARCH/ (ARCH=x86_64|arm64)"
	@echo "make expand   write the plain CloudFormation template for StackSets: CODE_URI=s3://bucket/folder,"
	@echo "              or CODE_BUCKET_PREFIX=prefix CODE_KEY=folder for one bucket per region"
	@echo "make clean    remove build outputs and the emulator's Python environment"

# The AWS emulator (moto, pinned) and cfn-lint live in a project-local virtual environment.
$(STAMP): dev/emulator/harness/requirements.txt dev/emulator/harness/constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r dev/emulator/harness/requirements.txt -c dev/emulator/harness/constraints.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

$(LINT_STAMP): dev/lint/requirements.txt dev/lint/constraints.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r dev/lint/requirements.txt -c dev/lint/constraints.txt
	rm -f $(LINT_VENV)/.installed-*
	touch $@

$(PACKAGE_STAMP): deploy/requirements.txt deploy/constraints.txt
	python3 -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/requirements.txt -c deploy/constraints.txt
	rm -f $(PACKAGE_VENV)/.installed-*
	touch $@

demo: venv
	$(CARGO) build --quiet -p sentinel-demo
	./target/debug/sentinel-demo

lint: venv $(LINT_STAMP)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml deploy/stackset.yaml deploy/agent-probe-alarm.yaml
	$(PY) deploy/expand_template.py --code-uri s3://example-artifacts/ecs-sentinel/0.1.0 --output target/lint/ecs-sentinel.json
	$(VENV)/bin/cfn-lint target/lint/ecs-sentinel.json
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml -f deploy/stackset.yaml -f deploy/agent-probe-alarm.yaml -f target/lint/ecs-sentinel.json

release:
	$(CARGO) build --release -p agent-monitor --bin bootstrap
	$(CARGO) build --release -p task-monitor --bin task-monitor
	$(CARGO) build --release -p fleet-recorder --bin fleet-recorder

# The release binary (fat LTO, as deployed), started cold through a Lambda Runtime API on
# loopback, against the emulator. Not part of `make test`: timings are for reading, not asserting.
bench: venv release
	$(CARGO) build --quiet -p sentinel-bench
	./target/debug/sentinel-bench --bootstrap target/release/bootstrap --task-monitor target/release/task-monitor \
		--fleet-recorder target/release/fleet-recorder $(BENCH_ARGS)

# cargo-lambda links with Zig for the Lambda runtime's glibc; the venv's bin directory on
# PATH is how it finds `python3 -m ziglang`. One zip per function, named after it, in one
# folder: the layout `make expand` (CODE_URI / CODE_KEY) and the StackSet upload expect.
PROBE_TRIPLE = $(if $(filter arm64,$(ARCH)),aarch64,x86_64)-unknown-linux-gnu

package: $(PACKAGE_STAMP)
	PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" $(PACKAGE_VENV)/bin/cargo-lambda lambda build \
		--release --$(subst _,-,$(ARCH)) -p agent-monitor --bin bootstrap \
		--output-format zip --lambda-dir target/lambda/$(ARCH)
	PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" $(PACKAGE_VENV)/bin/cargo-lambda lambda build \
		--release --$(subst _,-,$(ARCH)) -p task-monitor --bin task-monitor \
		--output-format zip --lambda-dir target/lambda/$(ARCH)
	PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" $(PACKAGE_VENV)/bin/cargo-lambda lambda build \
		--release --$(subst _,-,$(ARCH)) -p fleet-recorder --bin fleet-recorder \
		--output-format zip --lambda-dir target/lambda/$(ARCH)
	# The on-host probe runs on Amazon Linux 2 (glibc 2.26) and older ECS Anywhere hosts:
	# linked through Zig against glibc 2.17, then checked.
	PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" $(PACKAGE_VENV)/bin/cargo-lambda lambda build \
		--release --target $(PROBE_TRIPLE).2.17 -p agent-probe --bin ecs-agent-probe \
		--lambda-dir target/lambda/$(ARCH)
	mkdir -p dist/$(ARCH)
	cp target/lambda/$(ARCH)/ecs-agent-probe/bootstrap dist/$(ARCH)/ecs-agent-probe
	@glibc=$$(objdump -T dist/$(ARCH)/ecs-agent-probe | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -n 1); \
		echo "dist/$(ARCH)/ecs-agent-probe: $$(du -k dist/$(ARCH)/ecs-agent-probe | cut -f1) KiB, needs $$glibc at most"; \
		test "$$(printf '%s\n' $$glibc GLIBC_2.17 | sort -V | tail -n 1)" = GLIBC_2.17 || \
		{ echo "ecs-agent-probe needs $$glibc: newer than glibc 2.17" >&2; exit 1; }
	cp target/lambda/$(ARCH)/bootstrap/bootstrap.zip dist/$(ARCH)/agent-monitor.zip
	cp target/lambda/$(ARCH)/task-monitor/bootstrap.zip dist/$(ARCH)/task-monitor.zip
	cp target/lambda/$(ARCH)/fleet-recorder/bootstrap.zip dist/$(ARCH)/fleet-recorder.zip
	@$(PACKAGE_VENV)/bin/python -c 'import sys, os, zipfile; \
		[print(f"{z}: {os.path.getsize(z) / 2**20:.1f} MiB zipped, " \
		       f"{sum(i.file_size for i in zipfile.ZipFile(z).infolist()) / 2**20:.1f} MiB unzipped") \
		 for z in sys.argv[1:]]' \
		dist/$(ARCH)/agent-monitor.zip dist/$(ARCH)/task-monitor.zip dist/$(ARCH)/fleet-recorder.zip

# The SAM template expanded into plain CloudFormation, for service-managed StackSets.
expand: venv
	@test -n "$(CODE_URI)$(CODE_BUCKET_PREFIX)" || { echo "make expand needs CODE_URI=s3://bucket/folder (or CODE_BUCKET_PREFIX=... CODE_KEY=folder): the folder holding agent-monitor.zip, task-monitor.zip and fleet-recorder.zip" >&2; exit 2; }
	$(PY) deploy/expand_template.py $(if $(CODE_URI),--code-uri $(CODE_URI),--code-bucket-prefix $(CODE_BUCKET_PREFIX) --code-key $(CODE_KEY)) --output $(EXPANDED)

# The integration tests also run the function binaries and the CLI (target/debug/bootstrap,
# task-monitor, fleet-recorder, ecs-sentinel) through a Lambda Runtime API server or a shell:
# built with every target of the workspace, as nextest builds the tests, so both resolve the
# same features and share every compiled dependency. (Built alone, the binaries left out the
# dev-dependencies' tokio `test-util`, and nextest then compiled tokio and the whole AWS SDK
# a second time: 10 of CI's minutes.) The fat-LTO release build is for packaging and
# benchmarks only.
test: lint
	$(CARGO) build --quiet --workspace --all-targets
	$(CARGO) nextest run --workspace --no-fail-fast $(if $(CI),--profile ci,)

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(LINT_VENV) $(PACKAGE_VENV) dist
