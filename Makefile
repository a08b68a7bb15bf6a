# runpod-lua: `make` builds bin/runpod-worker and the runpod module's C part
# (build/lib/runpod/core.so) from the same sources.
#   make deps     install the Debian packages the build needs
#                 (vendor/debian-packages.txt)
#   make test     C tests, busted specs, end-to-end tests; installs what
#                 they need first (make test-deps: vendor/test-packages.txt
#                 and the npm packages)
#   make check    the same suite built with ASan + UBSan
#   make bench    benchmarks (results: bench/RESULTS.md)
#   make install  PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
BINDIR ?= bin
CC ?= cc
LUA ?= lua5.4
OPT ?= -O2 -g
SAN ?=

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
LUADIR = $(PREFIX)/share/lua/5.4
LUACDIR = $(PREFIX)/lib/lua/5.4

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2
CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) \
         $(OPT) $(SAN) -fPIC $(LUA_CFLAGS) -Iruntime -Iruntime/include \
         -DRP_LUA_DIR='"$(LUADIR)"' -DRP_LUA_CDIR='"$(LUACDIR)"'
LDFLAGS = $(SAN)
LIBS = $(LUA_LIBS) -lcurl -lcrypto -larchive -lm -lpthread -ldl

# The module's C part and everything the binary shares with it.
CORE_SRC = runtime/base/buf.c runtime/base/json.c runtime/base/log.c \
           runtime/base/alloc.c \
           runtime/base/args.c runtime/lua/ljson.c \
           runtime/lua/json_decode.c runtime/lua/json_encode.c \
           runtime/lua/lcore.c \
           runtime/lua/host.c runtime/lua/lclass.c \
           runtime/base/ident.c runtime/net/wire.c runtime/net/req.c \
           runtime/net/http.c runtime/lua/lhttp.c runtime/base/codec.c \
           runtime/lua/lbuffer.c runtime/base/files.c runtime/lua/lfiles.c \
           runtime/lua/lsys.c runtime/lua/lproc.c runtime/base/proc.c \
           runtime/net/netguard.c runtime/net/download.c \
           runtime/net/sigv4.c runtime/base/settings.c runtime/base/clock.c \
           runtime/base/volcache.c runtime/lua/lvolcache.c \
           runtime/base/unzip.c runtime/lua/larchive.c \
           runtime/net/s3part.c runtime/lua/ls3.c
WORKER_SRC = runtime/worker/vm.c runtime/worker/runner.c runtime/worker/local.c \
             runtime/worker/executor.c runtime/worker/outbox.c \
             runtime/worker/heartbeat.c runtime/worker/health.c \
             runtime/worker/serverless.c runtime/worker/take.c \
             runtime/worker/post.c runtime/worker/inproc.c \
             runtime/worker/job_server.c \
             runtime/worker/exit.c \
             runtime/worker/main.c \
             runtime/worker/reaper.c runtime/base/settings_doc.c
LUA_SRC = $(sort $(wildcard lua/runpod/*.lua))
LUA_INTERNAL_SRC = $(sort $(wildcard lua/runpod/internal/*.lua))
TEST_SRC = $(wildcard runtime/tests/*/test_*.c)

CORE_OBJ = $(CORE_SRC:runtime/%.c=$(BUILD)/obj/%.o)
WORKER_OBJ = $(WORKER_SRC:runtime/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/embedded.o
TESTS = $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRC))))
vpath test_%.c $(sort $(dir $(TEST_SRC)))

# The job store behind the emulator and the local API server.
JOBSTORE_SRC = runtime/server/jobstore.c runtime/server/jobstore_index.c \
               runtime/server/jobstore_stream.c
JOBSTORE_OBJ = $(JOBSTORE_SRC:runtime/%.c=$(BUILD)/obj/%.o)
# The emulator's request handling (runtime/server/emulator_int.h).
EMULATOR_SRC = $(addprefix runtime/server/,emulator.c emu_client.c \
               emu_worker.c emu_control.c emu_faults.c emu_log.c \
               emu_webhook.c openai.c bearer.c)

# The local API server (runtime/worker/api.h) serves the emulator's routes and
# store; its page and OpenAPI document are compiled in.
WORKER_SRC += runtime/worker/api.c $(EMULATOR_SRC) $(JOBSTORE_SRC) \
              runtime/server/httpd.c
WORKER_OBJ += $(BUILD)/obj/api_assets.o
LIBS += -lmicrohttpd
API_ASSETS = runtime/worker/api_page.html runtime/worker/api_openapi.json

WORKER = $(BINDIR)/runpod-worker
MODULE = $(BUILD)/lib/runpod/core.so

.PHONY: all deps test check bench fuzz lint install uninstall clean docs
all: $(WORKER) $(MODULE)

# The settings tables of docs/configuration.md and the man page, printed
# from runtime/base/settings.def by the worker; spec/docs_spec.lua checks that
# the committed files match.
docs: $(WORKER)
	$(WORKER) --print-settings markdown | \
	  $(LUA) runtime/base/splice_docs.lua docs/configuration.md
	$(WORKER) --print-settings man | \
	  $(LUA) runtime/base/splice_docs.lua docs/runpod-worker.1

# Each installs only what is missing (vendor/install-packages), so a
# second run calls no apt and needs no root.
deps:
	sh vendor/install-packages --no-install-recommends vendor/debian-packages.txt

# What the suites need on top: the Debian packages of
# vendor/test-packages.txt and the npm packages (RunPod's JS SDK,
# playwright-core, s3rver, openai), each pinned by its package-lock.json and
# installed again only when the lock is newer than the install. Without
# npm, `make test` reports those suites skipped.
.PHONY: test-deps test-packages image-deps
test-deps: test-packages sdk-deps browser-deps s3-deps openai-deps
test-packages: deps
	sh vendor/install-packages vendor/test-packages.txt

# mmdebstrap, podman and buildah for spec/image_spec.lua (CI installs
# them; without them that spec is reported skipped).
image-deps:
	sh vendor/install-packages vendor/image-packages.txt

# $(call npm-ci,DIR): `npm ci` in DIR unless DIR/node_modules is newer
# than its lock; without npm, says which suite will be skipped.
npm-ci = if [ $(1)/node_modules/.package-lock.json -nt $(1)/package-lock.json ]; then \
	  echo "$(1): npm packages installed"; \
	elif command -v npm >/dev/null; then \
	  cd $(1) && npm ci --no-audit --no-fund; \
	else \
	  echo "$(1): npm not found (Node.js 20 and npm): make test skips this suite"; \
	fi

$(BUILD)/obj/%.o: runtime/%.c $(wildcard runtime/*/*.h runtime/*/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/embedded.c: runtime/worker/gen_embedded.lua $(LUA_SRC) $(LUA_INTERNAL_SRC)
	@mkdir -p $(dir $@)
	$(LUA) runtime/worker/gen_embedded.lua $@ $(LUA_SRC) $(LUA_INTERNAL_SRC)

$(BUILD)/obj/embedded.o: $(BUILD)/embedded.c runtime/worker/embed.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/api_assets.c: runtime/worker/gen_assets.lua $(API_ASSETS)
	@mkdir -p $(dir $@)
	$(LUA) runtime/worker/gen_assets.lua $@ rp_api_page_html=runtime/worker/api_page.html \
	  rp_api_openapi_json=runtime/worker/api_openapi.json

$(BUILD)/obj/api_assets.o: $(BUILD)/api_assets.c runtime/worker/api.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(WORKER): $(CORE_OBJ) $(WORKER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A Lua C module: the Lua API comes from the host (lua5.4 or the binary),
# so liblua is not linked in. -z nodelete: runpod.volume_cache's threads
# and exit hook outlive lua_close, which would otherwise unload it.
$(MODULE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-z,nodelete -o $@ $^ -lcurl -lcrypto -larchive -lm -lpthread

# The example C extension module of handlers/ext_buffer.lua, built the way
# a user builds theirs: Lua 5.4 headers and runpod.h only, nothing linked,
# placed next to the handler scripts (require "ext.invert").
EXT = handlers/ext/invert.so
all: $(EXT)
$(EXT): handlers/ext/invert.c runtime/include/runpod.h
	$(CC) -std=c11 $(WARN) -O2 -shared -fPIC $(LUA_CFLAGS) -Iruntime/include \
	  -o $@ $<

$(BUILD)/tests/test_%: test_%.c $(CORE_OBJ) runtime/tests/check.h \
                       runtime/base/settings.def
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(LDFLAGS) $(LIBS)

# A stand-in for a local inference server, for runpod.http's tests.
FAKE_INFERENCE = $(BUILD)/spec/fake_inference
$(FAKE_INFERENCE): spec/fake_inference.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LDFLAGS) \
	  -lmicrohttpd -lpthread

# The include rules of runtime/'s layers (runtime/layers.sh; exceptions in
# runtime/layers.allow).
.PHONY: layers
layers:
	sh runtime/layers.sh

test: layers test-deps all $(TESTS) $(FAKE_INFERENCE)
	BUILD=$(BUILD) WORKER=$(WORKER) RP_BUILD=$(BUILD) RP_SANITIZE=$(RP_SANITIZE) bash spec/run

check:
	$(MAKE) BUILD=build/san BINDIR=build/san/bin \
	  OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  RP_SANITIZE=1 test

BENCH = $(BUILD)/bench/refresh $(BUILD)/bench/bare $(BUILD)/bench/bare_client \
        $(BUILD)/bench/stream_client $(BUILD)/bench/tcp_relay

$(BUILD)/bench/refresh: bench/refresh.c $(CORE_OBJ) $(filter-out %/main.o,$(WORKER_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

# Linked against exactly the worker's libraries, to be its RSS baseline.
$(BUILD)/bench/bare: bench/bare.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -Wl,--no-as-needed $(LIBS)

# The protocol's loopback limit: job-take + job-done with libcurl alone.
$(BUILD)/bench/bare_client: bench/bare_client.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lcurl

# Streaming chat completions, timed (bench/proxy.sh).
$(BUILD)/bench/stream_client: bench/stream_client.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lcurl

# The cheapest proxy there is, for scale (bench/proxy.sh).
$(BUILD)/bench/tcp_relay: bench/tcp_relay.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

bench: all $(BENCH) $(FAKE_INFERENCE)
	BUILD=$(BUILD) WORKER=$(WORKER) bash bench/run
	BUILD=$(BUILD) WORKER=$(WORKER) bash bench/serverless.sh
	BUILD=$(BUILD) WORKER=$(WORKER) bash bench/proxy.sh
	BUILD=$(BUILD) WORKER=$(WORKER) bash bench/data_path.sh
	WORKER=$(WORKER) bash bench/python_sdk.sh

# libFuzzer targets (clang), each run FUZZ_SECONDS on its corpus in
# spec/fuzz/<name>/; crashes are written to build/fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 \
  -fsanitize=fuzzer,address,undefined $(LUA_CFLAGS) -Iruntime -Iruntime/include
FUZZ_TARGETS = json wire bytes api

build/fuzz/fuzz_json: spec/fuzz/fuzz_json.c runtime/lua/json_decode.c \
                      runtime/lua/json_encode.c runtime/base/json.c \
                      runtime/base/buf.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(LUA_LIBS) -lm

build/fuzz/fuzz_wire: spec/fuzz/fuzz_wire.c runtime/net/wire.c runtime/base/buf.c \
                      runtime/base/json.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^

build/fuzz/fuzz_bytes: spec/fuzz/fuzz_bytes.c runtime/base/codec.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^

# The emulator's and the local API server's request handling, with
# spec/fuzz/fuzz_api.c standing in for httpd.c and curl_stub.c for libcurl.
build/fuzz/fuzz_api: spec/fuzz/fuzz_api.c spec/fuzz/curl_stub.c \
                     $(EMULATOR_SRC) $(JOBSTORE_SRC) \
                     runtime/base/buf.c runtime/base/json.c runtime/base/codec.c \
                     runtime/base/log.c runtime/net/netguard.c runtime/base/clock.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ -lpthread

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/$$t-corpus && \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=build/fuzz/$$t- build/fuzz/$$t-corpus \
	    spec/fuzz/$$t || exit 1; \
	done

lint:
	luacheck lua handlers spec bench

# `make install` records the directories it creates (those missing before
# it, relative to DESTDIR) in INSTALLED_DIRS; `make uninstall` removes
# those once they are empty, deepest first, and never a folder that holds
# anything else.
INSTALL_DIRS = $(PREFIX)/bin $(LUACDIR)/runpod $(LUADIR)/runpod $(LUADIR)/runpod/internal \
               $(PREFIX)/include $(PREFIX)/share/man/man1
INSTALLED_DIRS = $(DESTDIR)$(LUADIR)/runpod/.installed-dirs

install: all
	@new=; for d in $(INSTALL_DIRS); do \
	  p=$$d; while [ "$$p" != / ] && [ "$$p" != . ] && [ ! -d "$(DESTDIR)$$p" ]; do \
	    new="$$new $$p"; p=$$(dirname "$$p"); done; \
	done; \
	install -d $(addprefix $(DESTDIR),$(INSTALL_DIRS)) && \
	{ cat $(INSTALLED_DIRS) 2>/dev/null; printf '%s\n' $$new; } | \
	  awk 'NF && !seen[$$0]++' > $(INSTALLED_DIRS).new && \
	mv $(INSTALLED_DIRS).new $(INSTALLED_DIRS)
	install -m 755 $(WORKER) $(DESTDIR)$(PREFIX)/bin/runpod-worker
	install -m 755 $(EMULATOR) $(DESTDIR)$(PREFIX)/bin/runpod-emulator
	install -m 755 $(MODULE) $(DESTDIR)$(LUACDIR)/runpod/core.so
	install -m 644 $(LUA_SRC) $(DESTDIR)$(LUADIR)/runpod/
	install -m 644 $(LUA_INTERNAL_SRC) $(DESTDIR)$(LUADIR)/runpod/internal/
	install -m 644 runtime/include/runpod.h $(DESTDIR)$(PREFIX)/include/runpod.h
	install -m 644 docs/runpod-worker.1 $(DESTDIR)$(PREFIX)/share/man/man1/runpod-worker.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/runpod-worker $(DESTDIR)$(PREFIX)/bin/runpod-emulator \
	  $(DESTDIR)$(PREFIX)/include/runpod.h \
	  $(DESTDIR)$(PREFIX)/share/man/man1/runpod-worker.1
	@dirs=$$(cat $(INSTALLED_DIRS) 2>/dev/null); \
	rm -rf $(DESTDIR)$(LUACDIR)/runpod $(DESTDIR)$(LUADIR)/runpod && \
	for d in $$(printf '%s\n' $$dirs | awk 'NF {print length($$0), $$0}' | sort -rn | \
	    cut -d' ' -f2-); do \
	  if [ -d "$(DESTDIR)$$d" ]; then rmdir "$(DESTDIR)$$d" 2>/dev/null || true; fi; \
	done

clean:
	rm -rf build bin $(EXT)

# bin/runpod-emulator: a local RunPod endpoint, both the client and the
# worker API (docs/emulator.md). Plain C over libmicrohttpd and libcurl.
EMU_SRC = $(JOBSTORE_SRC) runtime/server/httpd.c $(EMULATOR_SRC) \
          runtime/server/emulator_main.c
EMU_OBJ = $(EMU_SRC:runtime/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/base/buf.o \
          $(BUILD)/obj/base/json.o \
          $(BUILD)/obj/base/log.o $(BUILD)/obj/net/netguard.o \
          $(BUILD)/obj/base/settings.o $(BUILD)/obj/base/alloc.o \
          $(BUILD)/obj/base/clock.o
EMULATOR = $(BINDIR)/runpod-emulator
EMU_LIBS = -lmicrohttpd -lcurl -lpthread

.PHONY: sdk-deps bench-emulator
all: $(EMULATOR)

$(EMULATOR): $(EMU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(EMU_LIBS)

# The pattern rule links $(CORE_OBJ) only; this test needs the store too.
$(BUILD)/tests/test_jobstore: runtime/tests/server/test_jobstore.c $(CORE_OBJ) \
                              $(JOBSTORE_OBJ) runtime/tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(JOBSTORE_OBJ) $(LDFLAGS) $(LIBS)

# The worker tests link their unit too.
$(BUILD)/tests/test_outbox: runtime/tests/worker/test_outbox.c $(CORE_OBJ) \
                            $(BUILD)/obj/worker/outbox.o runtime/tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(BUILD)/obj/worker/outbox.o \
	  $(LDFLAGS) $(LIBS)

$(BUILD)/tests/test_take: runtime/tests/worker/test_take.c $(CORE_OBJ) \
                          $(filter-out %/main.o,$(WORKER_OBJ)) runtime/tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(filter-out %/main.o,$(WORKER_OBJ)) \
	  $(LDFLAGS) $(LIBS)

$(BUILD)/tests/test_exit: runtime/tests/worker/test_exit.c $(CORE_OBJ) \
                          $(BUILD)/obj/worker/exit.o runtime/tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(BUILD)/obj/worker/exit.o \
	  $(LDFLAGS) $(LIBS)

# RunPod's JS SDK for spec/sdk/emulator.test.mjs (from the npm registry).
sdk-deps:
	@$(call npm-ci,spec/sdk)

# The official OpenAI client for spec/openai/ (from the npm registry).
.PHONY: openai-deps
openai-deps:
	@$(call npm-ci,spec/openai)

bench-emulator: $(EMULATOR)
	bash bench/emulator.sh $(EMULATOR)

# playwright-core for spec/browser/ (drives Debian's chromium; it downloads
# no browser), and the local API server's benchmark (wrk, ~15 s).
.PHONY: browser-deps bench-api
browser-deps:
	@$(call npm-ci,spec/browser)

bench-api: $(WORKER)
	bash bench/api.sh $(WORKER)
	bash bench/api_floor.sh $(WORKER)

# A long run (bench/soak.sh, not in CI): 100,000 jobs with refreshes and
# failures; RSS, jobs/s and exactly-once delivery go to bench/RESULTS.md.
.PHONY: bench-soak
bench-soak: $(WORKER) $(EMULATOR)
	WORKER=$(WORKER) EMULATOR=$(EMULATOR) bash bench/soak.sh

# s3rver, a local S3-compatible server for spec/upload_spec.lua
# (runpod.upload); without it those tests are reported pending.
.PHONY: s3-deps
s3-deps:
	@$(call npm-ci,spec/s3)

# The exports that let plain lua5.4 and busted find this checkout's runpod
# module (after `make`): eval "$(make -s lua-env)"
.PHONY: lua-env
lua-env:
	@echo "export LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;'" \
	  "LUA_CPATH='$(CURDIR)/$(BUILD)/lib/?.so;;'"
