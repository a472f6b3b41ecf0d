# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over CMake. `make demo` and `make test` install what is missing first.
#   make            build ipvm and ipvm_tests (build/)
#   make demo       build, then run Homestar's fixture workflows and print their receipts
#   make test       build, `make lint`, then run every test (add WERROR=1 for -Werror, as CI does)
#   make lint       clang-tidy's function size check (.clang-tidy) over src/
#   make test-asan  the same suite built with ASan+UBSan (build-asan/)
#   make fuzz       build the libFuzzer targets with clang and fuzz each for FUZZ_SECONDS
#                   (FUZZ_TARGETS="dagcbor cid" for some of them)
#   make bench      build and run every benchmark in bench/
#   make examples   build the example guests (examples/functions -> build/examples/*.wasm)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
WERROR     ?= 0
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
CMAKE_ARGS ?=
TEST_ARGS  ?=

ifeq ($(WERROR),1)
CMAKE_ARGS += -DIPVM_WERROR=ON
endif

.PHONY: all build deps test-deps demo test lint test-asan fuzz bench clean interop-deps examples conformance

all: build

deps:
	@tools/deps.sh build

test-deps:
	@tools/deps.sh all

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# JS reference libraries for the conformance tests, pinned by tests/interop/package-lock.json.
interop-deps: test-deps
	@tools/interop-deps.sh

demo: build
	@tools/demo.sh $(BUILD)

test: test-deps build interop-deps
	@tools/lint.sh $(BUILD) $(JOBS)
	$(BUILD)/ipvm_tests -j $(JOBS) $(TEST_ARGS)

# Uses $(BUILD)/compile_commands.json (CMakeLists.txt sets CMAKE_EXPORT_COMPILE_COMMANDS) and the
# headers the build generates, hence the build first.
lint: test-deps build
	@tools/lint.sh $(BUILD) $(JOBS)

test-asan: test-deps interop-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPVM_ASAN=ON -DIPVM_UBSAN=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:handle_segv=0:allow_user_segv_handler=1:use_sigaltstack=0} \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	IPVM_TEST_TIMEOUT_MULTIPLIER=$${IPVM_TEST_TIMEOUT_MULTIPLIER:-4} \
	  $(ASAN_BUILD)/ipvm_tests -j $(JOBS) $(TEST_ARGS)

fuzz: test-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DIPVM_FUZZ=ON -DIPVM_ASAN=ON -DIPVM_UBSAN=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

examples: test-deps build
	cmake --build $(BUILD) --target examples

# The IPLD project's codec fixtures (not on a registry; not committed here): give a checkout.
conformance: build
	@test -n "$(CODEC_FIXTURES)" || { echo "usage: make conformance CODEC_FIXTURES=PATH/TO/ipld/codec-fixtures"; exit 2; }
	$(BUILD)/conformance_codec_fixtures $(CODEC_FIXTURES)

bench: test-deps build interop-deps
	@tools/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
