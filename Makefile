# Thin wrapper around meson + ninja.  Real build logic lives in meson.build.
#
#   make                 build (build/)
#   make check           all tests
#   make demo            the demo
#   make bench           benchmarks (prints a table)
#   make install PREFIX=DIR
#   make check-asan      all tests under ASan+UBSan (build-asan/)
#   make check-tsan      all tests, the concurrency ones included, under TSan (build-tsan/)

BUILD   ?= build
PREFIX  ?= /usr/local
MESON   ?= meson
NINJA   ?= ninja
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps check demo bench install check-asan check-tsan clean

all: $(BUILD)/build.ninja
	$(NINJA) -C $(BUILD)

# A bare Debian 12 box has neither meson nor ninja: install them (and a
# compiler) from apt the first time.
deps:
	@command -v $(MESON) >/dev/null && command -v $(NINJA) >/dev/null && \
		command -v cc >/dev/null && command -v pkg-config >/dev/null || { \
		echo "installing build dependencies with apt-get"; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			meson ninja-build gcc pkg-config; }

$(BUILD)/build.ninja: | deps
	$(MESON) setup $(BUILD)

check: all
	$(MESON) test -C $(BUILD) --print-errorlogs

demo: all
	$(BUILD)/demo/dmabuf-demo

bench: all
	$(BUILD)/bench/dmabuf-bench
	$(BUILD)/src/tools/dmabuf-run --private -- $(BUILD)/bench/dmabuf-bench-shim

install: all
	$(MESON) configure $(BUILD) -Dprefix=$(abspath $(PREFIX)) -Dlibdir=lib
	$(MESON) install -C $(BUILD)

build-asan/build.ninja: | deps
	$(MESON) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false

check-asan: build-asan/build.ninja
	$(NINJA) -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MESON) test -C build-asan --print-errorlogs

build-tsan/build.ninja: | deps
	$(MESON) setup build-tsan -Db_sanitize=thread -Db_lundef=false

check-tsan: build-tsan/build.ninja
	$(NINJA) -C build-tsan
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(MESON) test -C build-tsan --print-errorlogs

clean:
	rm -rf $(BUILD) build-asan build-tsan build-conformance build-conformance-asan

# check-kernel, check-conformance and check-conformance-asan (the uAPI conformance suite), and
# check-kernel-api (the fd-level API on the real kernel)
-include mk/conformance.mk
-include mk/api.mk
