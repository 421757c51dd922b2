# The two commands: `make run` and `make test`. Everything else is a step of those.
BUILD      ?= build
TEST_BUILD ?= build-test
DATA_DIR   ?= ./data
LISTEN     ?= 127.0.0.1:2113
JOBS       ?= $(shell nproc)
PYTHON     ?= /usr/bin/python3

.PHONY: setup build build-test run test unit blackbox grpc reliability bench clean format lint

setup:
	@scripts/setup

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-test: setup
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

run: build
	$(BUILD)/sluice serve --data-dir $(DATA_DIR) --listen $(LISTEN)

unit: build-test
	cd $(TEST_BUILD) && ctest --output-on-failure

blackbox: build-test
	SLUICE_BIN=$(abspath $(TEST_BUILD))/sluice $(PYTHON) -m pytest -q tests/blackbox

# The official KurrentDB Node client against the server (installs it from npm).
grpc: build-test
	SLUICE_BIN=$(abspath $(TEST_BUILD))/sluice SLUICE_GRPC_REPORTER=dot tests/grpc/run

# Crash loops, disk faults, corruption, sink faults, isolation (short settings; see docs/reliability.md).
reliability: build-test
	SLUICE_BIN=$(abspath $(TEST_BUILD))/sluice $(PYTHON) -m pytest -q tests/reliability

test: unit blackbox grpc fuzz-smoke reliability

bench: build
	bench/append
	bench/read

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -I src src

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

# Fuzzing (tests/fuzz): libFuzzer targets built with clang-14, ASan and UBSan into $(FUZZ_BUILD).
# `make fuzz` runs each target FUZZ_SECONDS on a scratch copy of its corpus; `make fuzz-smoke`
# runs each for 10 s (CI). Findings land in $(FUZZ_BUILD)/fuzz-work/<target>/artifacts/.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_http_request fuzz_event_json fuzz_connector_settings fuzz_record_decode fuzz_grpc_decode \
                fuzz_h2_grpc

.PHONY: fuzz-build fuzz fuzz-smoke

fuzz-build: setup
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
	  -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) 10 $(FUZZ_TARGETS)
