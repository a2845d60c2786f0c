# SPDX-License-Identifier: Apache-2.0
# The two set-up commands: `make demo` and `make test`. Both install missing Debian packages.
NPROC := $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build asan fuzz test demo bench format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(NPROC)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCHORUS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(NPROC)

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCHORUS_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(NPROC) --target fuzz_targets

test: build asan fuzz
	@tests/run.sh $(BUILD) $(ASAN_BUILD) build-fuzz

demo: build
	@examples/routes/demo.sh $(BUILD)

bench: build
	@scripts/deps.sh --bench
	@bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
