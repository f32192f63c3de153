# Balai: entry point for building, running and testing. Meson + Ninja do the
# real work; this file only strings the steps together.
#
#   make deps         install missing Debian and npm packages (scripts/install-deps)
#   make build        build/balai (debugoptimized) and the web app (web/dist)
#   make build-asan   build-asan/ with AddressSanitizer + UBSan
#   make build-fuzz   build-fuzz/ with clang, libFuzzer targets, ASan + UBSan
#   make run          init ./data if needed and serve on http://127.0.0.1:8008
#   make test         everything a change must pass (normal and ASan passes)
#   make check        quick subset for iterating
#   make fuzz-smoke   run each fuzz target briefly (not part of make test)
#   make format | format-check | lint | bench | bench-full | clean

MESON ?= meson
NINJA ?= ninja
CLANG_FORMAT ?= clang-format
FUZZ_SECONDS ?= 20

MAKEFLAGS += --no-print-directory
# Ninja parallelises each build; prerequisites run in the order written.
.NOTPARALLEL:

.PHONY: all deps build build-asan build-fuzz run test check fuzz-smoke \
        format format-check lint bench bench-full clean

all: build

# The script checks everything in one dpkg-query call and compares the npm
# lockfiles with node_modules/.package-lock.json (its stamp), so running it
# every time costs a fraction of a second.
deps:
	@scripts/install-deps

build: web/dist/index.html
	@test -f build/build.ninja || $(MESON) setup build --buildtype=debugoptimized
	@$(NINJA) -C build

# The web app (web/, served by balai at /): rebuilt when its sources change.
# Type-checked first; the bundle step also checks the size budget (docs/webapp.md).
WEB_SOURCES = $(shell find web/src -type f 2>/dev/null) web/build.mjs web/package.json \
	web/package-lock.json web/tsconfig.json

web/dist/index.html: $(WEB_SOURCES)
	@test -d web/node_modules || { echo "make: web/node_modules is missing: run 'make deps'" >&2; exit 1; }
	@cd web && node_modules/.bin/tsc --noEmit -p . && node build.mjs --size

build-asan:
	@test -f build-asan/build.ninja || $(MESON) setup build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
	@$(NINJA) -C build-asan

build-fuzz:
	@test -f build-fuzz/build.ninja || CC=clang $(MESON) setup build-fuzz \
		-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
	@$(NINJA) -C build-fuzz

run: deps build
	@scripts/run-dev

# Both passes always run; the target fails if either did.
test: deps build build-asan
	@rc=0; \
	scripts/run-tests build || rc=1; \
	scripts/run-tests build-asan || rc=1; \
	exit $$rc

check: deps build
	@scripts/run-tests build --quick

# Each target gets a scratch copy of its seed corpus (libFuzzer writes new
# inputs into it); crash reproducers go to build-fuzz/artifacts/.
fuzz-smoke: build-fuzz
	@set -u; rc=0; n=0; \
	mkdir -p build-fuzz/artifacts; \
	for f in build-fuzz/fuzz/fuzz_*; do \
		[ -f "$$f" ] && [ -x "$$f" ] || continue; \
		n=$$((n + 1)); name=$${f##*/fuzz_}; \
		tmp=$$(mktemp -d); \
		if [ -d "fuzz/corpus/$$name" ]; then cp -R "fuzz/corpus/$$name/." "$$tmp/"; fi; \
		echo "fuzz-smoke: $$name ($(FUZZ_SECONDS)s)"; \
		if "$$f" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix="build-fuzz/artifacts/$$name-" "$$tmp" \
			> "build-fuzz/artifacts/$$name.log" 2>&1; then \
			echo "fuzz-smoke: $$name ok ($$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
				"build-fuzz/artifacts/$$name.log" | grep -o '[0-9]*$$') runs)"; \
		else \
			rc=1; echo "fuzz-smoke: $$name FAILED, last lines of build-fuzz/artifacts/$$name.log:"; \
			tail -n 40 "build-fuzz/artifacts/$$name.log"; \
		fi; \
		rm -rf "$$tmp"; \
	done; \
	if [ $$n -eq 0 ]; then echo "fuzz-smoke: no fuzz targets in build-fuzz/fuzz/"; exit 1; fi; \
	exit $$rc

# C sources to format: src/, tests/unit/, fuzz/ (not its corpora), bench/, top level.
FORMAT_FILES = $(shell find src tests/unit fuzz bench -path fuzz/corpus -prune -o \
		-type f \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null; \
		ls *.c *.h 2>/dev/null)

format:
	@files='$(FORMAT_FILES)'; [ -z "$$files" ] || $(CLANG_FORMAT) -i $$files

format-check:
	@files='$(FORMAT_FILES)'; [ -z "$$files" ] || $(CLANG_FORMAT) --dry-run --Werror $$files

lint:
	@scripts/lint-layers

bench:
	@if [ -x scripts/bench ]; then $(MAKE) build && scripts/bench; \
	else echo "make bench: benchmarks arrive with issue 4 (no scripts/bench yet)"; exit 1; fi

bench-full:
	@if [ -x scripts/bench ]; then $(MAKE) build && scripts/bench --full; \
	else echo "make bench-full: benchmarks arrive with issue 4 (no scripts/bench yet)"; exit 1; fi

clean:
	rm -rf build build-asan build-fuzz web/dist
