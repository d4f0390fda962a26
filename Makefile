# clft — the front door. Everything real is in CMakeLists.txt; these targets are what a newcomer types.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test bench reproduce plots clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

bench: build
	scripts/bench.sh $(BUILD)

reproduce: build
	$(BUILD)/clft reproduce --preset mini

clean:
	rm -rf $(BUILD)
