# The two commands: `make run` and `make test`. Everything else is a step of those.
BUILD      ?= build
TEST_BUILD ?= build-test
DATA_DIR   ?= ./data
LISTEN     ?= 127.0.0.1:2113
JOBS       ?= $(shell nproc)
PYTHON     ?= /usr/bin/python3

.PHONY: setup build build-test run test unit blackbox bench clean format lint

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

test: unit blackbox

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
