# Makefile -- the only build entry point of llmux.
#   make            build everything into build/
#   make deps       install the Debian packages the build and tests need
#   make run        build, then run llmuxd in the foreground on etc/llmux.yaml
#   make test       build, then run the whole test suite
#   make check-fresh  both of the two commands in pristine Debian 12 roots
#                   (tests/fresh/check-fresh.sh; root, the Debian mirror)
# SANITIZE=1 builds with ASan+UBSan into build-san/ (make test SANITIZE=1).
# Every build and test target installs missing Debian packages first (deps)
# and asks pkg-config only afterwards, so each works on the first try on a
# fresh machine, with or without -j.

.DEFAULT_GOAL := all
PREFIX      ?= /usr/local
DESTDIR     ?=
# Where `make install` puts things (DESTDIR is prepended to each).
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR  ?= /etc
CC          ?= cc
PYTHON      ?= /usr/bin/python3
CONFORMANCE ?= $(abspath ../shared/conformance)

ifeq ($(SANITIZE),1)
B        ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B        ?= build
SANFLAGS :=
endif

PKGS_DAEMON := libuv libcurl msgpack yaml-0.1 jansson libsystemd libcrypto zlib hiredis sqlite3
PKGS_CLIENT := msgpack

# Debian packages: build, then what the tests use (the suite runs groff,
# systemd-analyze, setpriv, unshare, ps, valgrind and clang-14's libFuzzer).
# Complete for a bare `mmdebstrap --variant=minbase` root with make and
# ca-certificates: `make check-fresh` proves it.
DEB_BUILD := build-essential pkg-config libuv1-dev libcurl4-openssl-dev libmsgpack-dev \
             libyaml-dev libsystemd-dev libjansson-dev libssl-dev zlib1g-dev \
             libhttp-parser-dev libhiredis-dev libsqlite3-dev
DEB_TEST  := python3 python3-msgpack python3-yaml systemd util-linux procps groff-base jq wrk curl \
             clang-14 libclang-rt-14-dev valgrind redis-server openssl
DEB_ALL   := $(DEB_BUILD) $(DEB_TEST)

# ---- packages first --------------------------------------------------------
# Goals that build nothing need no packages; every other one checks them.
NODEPS_GOALS := clean clean-harden uninstall install-files check-fresh
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# What DEB_ALL lacks, asked once while make parses this file: dpkg-query
# needs no root. Without dpkg-query (not Debian) nothing is missing here,
# and pkgconf below names what pkg-config cannot find.
DEB_MISSING := $(if $(shell command -v dpkg-query 2>/dev/null),$(filter-out \
    $(shell dpkg-query -W -f='$${db:Status-Abbrev}$${Package}\n' $(DEB_ALL) \
            2>/dev/null | sed -n 's/^ii *//p'),$(DEB_ALL)))
endif
ifneq ($(DEB_MISSING),)
SUDO := $(if $(filter 0,$(shell id -u)),,$(if $(shell command -v sudo 2>/dev/null),sudo,NONE))
ifeq ($(SUDO),NONE)
# One line, before anything is compiled: not a page of linker errors.
$(error deps: missing Debian packages: $(DEB_MISSING) (not root, no sudo): as root, apt-get install $(DEB_MISSING))
endif
endif

# Every object waits for deps (an order-only prerequisite, so -j cannot
# compile before the packages are in) and the flags come from pkg-config
# in the recipes, once, at first use: never while make parses this file,
# when on a fresh machine neither the packages nor pkg-config exist yet.
deps:
ifneq ($(DEB_MISSING),)
	@echo "deps: installing $(DEB_MISSING)"
	@$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(SUDO) apt-get install -y -qq --no-install-recommends $(DEB_MISSING) >/dev/null
else
	@:
endif

# $(call pkgconf,--cflags|--libs,PACKAGES): pkg-config's answer, or one
# line that stops make naming the .pc files it cannot find.
pkgconf = $(if $(shell pkg-config --exists $2 2>/dev/null && echo y),$(shell \
    pkg-config $1 $2),$(error pkg-config cannot find $(shell for p in $2; do \
    pkg-config --exists $$p 2>/dev/null || echo $$p; done) (make deps installs them)))
# Each is replaced by its value the first time a recipe expands it.
PC_DAEMON_CFLAGS = $(eval PC_DAEMON_CFLAGS := $(call pkgconf,--cflags,$(PKGS_DAEMON)))$(PC_DAEMON_CFLAGS)
PC_DAEMON_LIBS   = $(eval PC_DAEMON_LIBS := $(call pkgconf,--libs,$(PKGS_DAEMON)))$(PC_DAEMON_LIBS)
PC_CLIENT_CFLAGS = $(eval PC_CLIENT_CFLAGS := $(call pkgconf,--cflags,$(PKGS_CLIENT)))$(PC_CLIENT_CFLAGS)
PC_CLIENT_LIBS   = $(eval PC_CLIENT_LIBS := $(call pkgconf,--libs,$(PKGS_CLIENT)))$(PC_CLIENT_LIBS)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -MMD -MP \
               -fPIC $(SANFLAGS)
# http_parser ships no .pc file: linked by name.
DAEMON_CFLAGS  = $(CFLAGS_BASE) -Iprotocol -Idaemon $(PC_DAEMON_CFLAGS)
DAEMON_LIBS    = $(PC_DAEMON_LIBS) -lhttp_parser -lm
CLIENT_CFLAGS  = $(CFLAGS_BASE) -Iprotocol -Iclient $(PC_CLIENT_CFLAGS)
CLIENT_LIBS    = $(PC_CLIENT_LIBS) -lm
LDFLAGS_ALL   := $(SANFLAGS)

PROTO_SRC   := $(wildcard protocol/*.c)
DAEMON_SRC  := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/providers/*.c))
CLIENT_SRC  := client/llmux.c client/llmux_error.c client/llmux_event.c \
               client/llmux_request.c client/llmux_chat.c client/llmux_embed.c
CLI_SRC     := client/cli.c client/clikeys.c client/cliio.c client/cliembed.c \
               client/clicache.c
# The public headers: llmux.h and every header it includes.
HEADERS     := client/llmux.h protocol/llmux-errno.h
UNIT_SRC    := $(wildcard tests/unit/*.c)

PROTO_OBJ   := $(PROTO_SRC:%.c=$(B)/obj/%.o)
DAEMON_OBJ  := $(DAEMON_SRC:%.c=$(B)/obj/%.o)
CLIENT_OBJ  := $(CLIENT_SRC:%.c=$(B)/obj/%.o)
UNIT_OBJ    := $(UNIT_SRC:%.c=$(B)/obj/%.o)

LLMUXD      := $(B)/llmuxd
LLMUX       := $(B)/llmux
LIBSO       := $(B)/libllmux.so
LIBA        := $(B)/libllmux.a
UNIT        := $(B)/unit-tests
CLIENTTEST  := $(B)/llmux-client-test
PCFILE      := $(B)/llmux.pc
PCUNINST    := $(B)/llmux-uninstalled.pc
# The version is defined once, in daemon/version.h.
VERSION     := $(shell sed -n 's/^\#define LLMUX_DAEMON_VERSION "\(.*\)"/\1/p' daemon/version.h)

.PHONY: all deps run test unit clean install install-files uninstall \
        check check-units check-fresh sdk-deps
all: $(LLMUXD) $(LLMUX) $(LIBSO) $(LIBA) $(UNIT) $(PCFILE) $(PCUNINST) $(CLIENTTEST)

$(B)/obj/daemon/%.o: daemon/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -c $< -o $@

# Where llmuxd finds LiteLLM's price table when llmux_settings.prices_file
# is not set: the installed copy, else this tree's etc/prices.json (make
# run, the tests). Only prices.c sees the paths; its object is rebuilt
# when they change: the stamp's recipe runs every time but rewrites it
# only when its text differs, and make compares the mtime it then has.
PRICES_SHARE := $(PREFIX)/share/llmux/prices.json
PRICES_TREE  := $(CURDIR)/etc/prices.json
PRICES_STAMP := $(B)/prices-paths
.PHONY: FORCE
$(PRICES_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PRICES_SHARE) $(PRICES_TREE)' | cmp -s - $@ 2>/dev/null || \
	    echo '$(PRICES_SHARE) $(PRICES_TREE)' > $@
$(B)/obj/daemon/prices.o: daemon/prices.c $(PRICES_STAMP) | deps
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -DLLMUX_PRICES_SHARE='"$(PRICES_SHARE)"' \
	    -DLLMUX_PRICES_TREE='"$(PRICES_TREE)"' -c $< -o $@

$(B)/obj/protocol/%.o: protocol/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CLIENT_CFLAGS) -c $< -o $@

$(B)/obj/client/%.o: client/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CLIENT_CFLAGS) -c $< -o $@

$(B)/obj/tests/unit/%.o: tests/unit/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -Iclient -Itests/unit -DCONFORMANCE_DIR='"$(CONFORMANCE)"' -c $< -o $@

$(LLMUXD): $(B)/obj/daemon/main.o $(DAEMON_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DAEMON_LIBS)

# The shared library exports llmux_* only (client/llmux.map); the soname
# carries the ABI version.
$(LIBSO): $(CLIENT_OBJ) $(PROTO_OBJ) client/llmux.map
	$(CC) $(LDFLAGS_ALL) -shared -Wl,-soname,libllmux.so.0 \
	    -Wl,--version-script=client/llmux.map -o $@.0 $(CLIENT_OBJ) $(PROTO_OBJ) $(CLIENT_LIBS)
	ln -sf libllmux.so.0 $@

$(LIBA): $(CLIENT_OBJ) $(PROTO_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LLMUX): $(CLI_SRC:%.c=$(B)/obj/%.o) $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS)

$(CLIENTTEST): tests/integration/client-test.c $(LIBA)
	$(CC) $(CLIENT_CFLAGS) -o $@ $< $(LIBA) $(CLIENT_LIBS)

$(UNIT): $(UNIT_OBJ) $(DAEMON_OBJ) $(PROTO_OBJ) $(CLIENT_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DAEMON_LIBS)

# pkg-config files. In the build tree, $(B)/llmux-uninstalled.pc:
#   cc app.c $(PKG_CONFIG_PATH=build pkg-config --cflags --libs llmux)
# After `make install DESTDIR=D`, the installed file with D as sysroot:
#   cc app.c $(PKG_CONFIG_SYSROOT_DIR=D PKG_CONFIG_PATH=D$(LIBDIR)/pkgconfig \
#              pkg-config --cflags --libs llmux)
# (libdir and includedir are written relative to ${prefix}, so pkg-config
# --define-prefix relocates them too). Run it with LD_LIBRARY_PATH=D$(LIBDIR).
pcsed = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
            -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
            -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|'
$(PCFILE): client/llmux.pc.in
	@mkdir -p $(dir $@)
	$(pcsed) $< > $@

$(PCUNINST): client/llmux-uninstalled.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@SRCDIR@|$(CURDIR)|' -e 's|@BUILDDIR@|$(abspath $(B))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

unit: $(UNIT)
	$(UNIT)

# The whole suite: C unit tests, then the real daemon, library and shell
# helper against the fake providers. Ends with "N passed, N failed".
test: deps all sdk-deps
	@rc=0; $(MAKE) --no-print-directory check-units || rc=1; \
	$(PYTHON) tests/run.py --build $(B) || rc=1; exit $$rc

check: test

# The official openai SDK the HTTP front end is tested with, pinned by
# tests/sdk/package-lock.json: npm ci when node_modules is missing or older
# than the lockfile. Without npm the SDK tests count as skipped; a failed
# install leaves them to fail, saying so.
SDK_STAMP := tests/sdk/node_modules/.package-lock.json
sdk-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "sdk-deps: npm is not installed; the SDK tests will be skipped"; \
	elif [ ! -e $(SDK_STAMP) ] || [ tests/sdk/package-lock.json -nt $(SDK_STAMP) ] || \
	     [ tests/sdk/package.json -nt $(SDK_STAMP) ]; then \
	  echo "sdk-deps: npm ci in tests/sdk"; \
	  (cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error) || \
	    echo "sdk-deps: npm ci failed; the SDK tests will fail"; \
	fi

# The units as `make install` writes them, checked offline. verify must
# print nothing (it exits 0 even on unknown keys), and the sandbox must
# score <= 2.0 in `systemd-analyze security` (the threshold is 10 x the
# score). verify wants ExecStart= to exist, so the copies use $(B)/.
UNITS_SRC ?= systemd
check-units: $(LLMUXD) $(LLMUX)
	@t=$$(mktemp -d) && trap 'rm -rf "$$t"' EXIT && \
	sed -e 's|/usr/sbin/llmuxd|$(abspath $(LLMUXD))|' \
	    -e 's|/usr/bin/llmux |$(abspath $(LLMUX)) |' \
	    $(UNITS_SRC)/llmux.service > "$$t/llmux.service" && \
	cp $(UNITS_SRC)/llmux.socket "$$t/llmux.socket" && \
	out=$$(systemd-analyze verify --man=no "$$t/llmux.socket" \
	       "$$t/llmux.service" 2>&1); \
	if [ -n "$$out" ]; then \
	  echo "check-units: systemd-analyze verify is not silent:"; \
	  echo "$$out"; exit 1; fi; \
	sec=$$(systemd-analyze security --offline=yes --threshold=20 \
	       "$$t/llmux.service" 2>&1); rc=$$?; \
	echo "check-units: $$(echo "$$sec" | grep 'Overall exposure')"; \
	if [ $$rc -ne 0 ]; then \
	  echo "check-units: exposure above 2.0; what costs:"; \
	  echo "$$sec" | grep -v '✓'; exit 1; fi; \
	echo "check-units: ok (verify silent, exposure <= 2.0)"

# make install [PREFIX=/usr/local] [DESTDIR=]: builds, then copies.
# The example configuration goes to $(SYSCONFDIR)/llmux/llmux.yaml only
# when there is none: an existing one is never overwritten.
install: all
	@$(MAKE) --no-print-directory install-files

# The copying alone, from a finished build (the tests call it).
install-files:
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/llmux
	install -m 0755 $(LLMUXD) $(DESTDIR)$(SBINDIR)/llmuxd
	install -m 0755 $(LLMUX) $(DESTDIR)$(BINDIR)/llmux
	install -m 0755 $(LIBSO).0 $(DESTDIR)$(LIBDIR)/libllmux.so.0
	ln -sf libllmux.so.0 $(DESTDIR)$(LIBDIR)/libllmux.so
	install -m 0644 $(LIBA) $(DESTDIR)$(LIBDIR)/libllmux.a
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	@for h in $$(sed -n 's/^#include "\(.*\)"/\1/p' $(HEADERS)); do \
	  [ -e $(DESTDIR)$(INCLUDEDIR)/$$h ] || { echo "install: $$h, which" \
	    "the public headers include, is not in HEADERS" >&2; exit 1; }; done
	$(pcsed) client/llmux.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/llmux.pc
	sed -e 's|/usr/sbin/llmuxd|$(SBINDIR)/llmuxd|' \
	    -e 's|/usr/bin/llmux |$(BINDIR)/llmux |' \
	    systemd/llmux.service > $(DESTDIR)$(UNITDIR)/llmux.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/llmux.service \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/llmux.pc
	install -m 0644 systemd/llmux.socket $(DESTDIR)$(UNITDIR)/llmux.socket
	install -m 0644 systemd/sysusers.d/llmux.conf \
	    $(DESTDIR)$(SYSUSERSDIR)/llmux.conf
	install -m 0644 systemd/tmpfiles.d/llmux.conf \
	    $(DESTDIR)$(TMPFILESDIR)/llmux.conf
	install -m 0644 daemon/llmuxd.8 $(DESTDIR)$(MANDIR)/man8/llmuxd.8
	install -m 0644 client/llmux.1 $(DESTDIR)$(MANDIR)/man1/llmux.1
	install -m 0644 client/libllmux.3 $(DESTDIR)$(MANDIR)/man3/libllmux.3
	install -m 0644 etc/llmux.yaml.5 $(DESTDIR)$(MANDIR)/man5/llmux.yaml.5
	install -d $(DESTDIR)$(PREFIX)/share/llmux
	install -m 0644 etc/prices.json $(DESTDIR)$(PREFIX)/share/llmux/prices.json
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/llmux/llmux.yaml ]; then \
	  echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/llmux/llmux.yaml"; \
	else \
	  echo "install -m 0644 etc/llmux.yaml $(DESTDIR)$(SYSCONFDIR)/llmux/llmux.yaml"; \
	  install -m 0644 etc/llmux.yaml $(DESTDIR)$(SYSCONFDIR)/llmux/llmux.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Removes what install-files copied, except the configuration.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/llmuxd $(DESTDIR)$(BINDIR)/llmux \
	    $(DESTDIR)$(LIBDIR)/libllmux.so.0 $(DESTDIR)$(LIBDIR)/libllmux.so \
	    $(DESTDIR)$(LIBDIR)/libllmux.a $(DESTDIR)$(LIBDIR)/pkgconfig/llmux.pc \
	    $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(HEADERS))) \
	    $(DESTDIR)$(UNITDIR)/llmux.service $(DESTDIR)$(UNITDIR)/llmux.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/llmux.conf $(DESTDIR)$(TMPFILESDIR)/llmux.conf \
	    $(DESTDIR)$(MANDIR)/man8/llmuxd.8 $(DESTDIR)$(MANDIR)/man1/llmux.1 \
	    $(DESTDIR)$(MANDIR)/man3/libllmux.3 $(DESTDIR)$(MANDIR)/man5/llmux.yaml.5 \
	    $(DESTDIR)$(PREFIX)/share/llmux/prices.json

# llmuxd in the foreground on the example config, on the socket that
# `build/llmux` finds by itself: $XDG_RUNTIME_DIR/llmux.sock, else
# /tmp/llmux-UID/llmux.sock -- as root too, for /run/llmux/llmux.sock is the
# system service's. That folder must be ours alone (mode 0700, not a
# symlink): /tmp is shared, and whoever owns it could swap the socket.
RUN_SOCKET = $(or $(XDG_RUNTIME_DIR),/tmp/llmux-$(shell id -u))/llmux.sock
# make run's HTTP front end: loopback only (no master key in etc/llmux.yaml).
RUN_HTTP  ?= 127.0.0.1:4000
run: deps all
	@d=$(patsubst %/,%,$(dir $(RUN_SOCKET))); \
	if [ -z "$(XDG_RUNTIME_DIR)" ]; then mkdir -m 0700 "$$d" 2>/dev/null; \
	  if [ -L "$$d" ] || [ "$$(stat -c %u:%a "$$d")" != "$$(id -u):700" ]; then \
	    echo "run: $$d is not a folder of yours alone ($$(stat -c 'owner uid %u,' \
	      "$$d") mode $$(stat -c %a "$$d")): remove it, or set XDG_RUNTIME_DIR" >&2; \
	    exit 1; fi; fi; \
	try="$(LLMUX)"; [ -z "$(XDG_RUNTIME_DIR)" ] && [ -S /run/llmux/llmux.sock ] && \
	  try="$(LLMUX) -S $(RUN_SOCKET)"; \
	echo "llmuxd: listening on $(RUN_SOCKET) (etc/llmux.yaml; Ctrl-C stops it);" \
	  "try: $$try chat -m mock/echo hi"; \
	echo "llmuxd: OpenAI-compatible HTTP on http://$(RUN_HTTP)/v1; try:" \
	  "OPENAI_BASE_URL=http://$(RUN_HTTP)/v1 with any OpenAI SDK"
	exec $(LLMUXD) -c etc/llmux.yaml -s $(RUN_SOCKET) --http $(RUN_HTTP)

# The two commands on pristine Debian 12 roots that it bootstraps (and
# caches under /var/tmp); needs root and the Debian mirror; not in `make
# test`. Prints the time of each step and the suite's closing line.
check-fresh:
	bash tests/fresh/check-fresh.sh

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- measure and harden: fuzz, bench, memcheck, soak ----------------------
#   make fuzz [FUZZ_SECONDS=N]   each libFuzzer target (tests/fuzz) N seconds
#   make bench                   the benchmark table (tests/bench), not a test
#   make memcheck                the integration suite with llmuxd under valgrind
#   make soak [SOAK_SECONDS=N]   mixed traffic for N seconds, checks RSS and fds
# `make test` also builds the fuzz targets; tests/run.py runs each for
# $(FUZZ_SMOKE_SECONDS) seconds (LLMUX_FUZZ_SECONDS) and counts them.
FUZZ_CC            ?= clang-14
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 3
SOAK_SECONDS       ?= 60
FB                 := build-fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -g -MMD -MP \
               $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Iprotocol -Idaemon \
               -Idaemon/providers $(PC_DAEMON_CFLAGS)
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS   := $(FUZZ_NAMES:%=$(FB)/fuzz-%)
FUZZ_OBJ    := $(PROTO_SRC:%.c=$(FB)/obj/%.o) $(DAEMON_SRC:%.c=$(FB)/obj/%.o)

BENCH_BINS  := $(B)/bench-upstream $(B)/llmux-bench
BENCH_ARGS  ?=

.PHONY: fuzz fuzz-build bench memcheck soak clean-harden
test: fuzz-build
clean: clean-harden

$(FB)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# An archive, so each target links only the objects its parser needs.
$(FB)/libfuzzed.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The targets themselves are ours: they must compile without warnings.
$(FB)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(FB)/libfuzzed.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Itests/fuzz -fsanitize=fuzzer -o $@ \
	    $< $(FB)/libfuzzed.a $(DAEMON_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(PYTHON) tests/fuzz/fuzzrun.py --build $(FB) --seconds $(FUZZ_SECONDS)

$(B)/bench-upstream: tests/bench/upstream.c | deps
	$(CC) $(CFLAGS_BASE) -o $@ $< $(LDFLAGS_ALL)

$(B)/llmux-bench: tests/bench/bench.c tests/bench/loadgen.c tests/bench/loadgen.h $(LIBA)
	$(CC) $(CLIENT_CFLAGS) -Itests/bench -pthread -o $@ tests/bench/bench.c \
	    tests/bench/loadgen.c $(LIBA) $(CLIENT_LIBS) $(LDFLAGS_ALL)

bench: all $(BENCH_BINS)
	$(B)/llmux-bench --llmuxd $(LLMUXD) --upstream $(B)/bench-upstream $(BENCH_ARGS)
	$(PYTHON) tests/bench/http_bench.py --build $(B)

memcheck: deps all
	$(PYTHON) tests/bench/memcheck.py --build $(B)

soak: deps all
	$(PYTHON) tests/bench/soak.py --build $(B) --seconds $(SOAK_SECONDS)

clean-harden:
	rm -rf $(FB)

-include $(shell find $(FB) -name '*.d' 2>/dev/null)
