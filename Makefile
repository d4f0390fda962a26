# clft — the front door. Everything real is in CMakeLists.txt; these targets are what a newcomer types.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test bench reproduce plots clean sanitize fuzz
SAN_BUILD  ?= build-san
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_RUNS ?= -1
FUZZ_NICE ?= 0
FUZZ_TARGETS ?=

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

# The whole test suite under AddressSanitizer + UBSan (incl. float-cast-overflow), GCC.
sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLFT_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure --timeout 900

# libFuzzer targets (clang): build in $(FUZZ_BUILD), run each for FUZZ_SECONDS or FUZZ_RUNS
# executions, whichever ends first (scripts/fuzz.sh). Installs clang and its runtime as root.
fuzz:
	@CLFT_DEPS_EXTRA="clang libclang-rt-14-dev" scripts/deps.sh
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLFT_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_NICE=$(FUZZ_NICE) \
	    scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_TARGETS)

bench: build
	scripts/bench.sh $(BUILD)

reproduce: build
	$(BUILD)/clft reproduce --preset mini

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
