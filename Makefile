# Makefile -- the only build entry point of llmux.
#   make            build everything into build/
#   make deps       install the Debian packages the build and tests need
#   make run        build, then run llmuxd in the foreground on etc/llmux.yaml
#   make test       build, then run the whole test suite
# SANITIZE=1 builds with ASan+UBSan into build-san/ (make test SANITIZE=1).

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

PKGS_DAEMON := libuv libcurl msgpack yaml-0.1 jansson libsystemd libcrypto zlib sqlite3
PKGS_CLIENT := msgpack

# Debian packages: build, then what the tests use.
DEB_BUILD := build-essential pkg-config libuv1-dev libcurl4-openssl-dev libmsgpack-dev \
             libyaml-dev libsystemd-dev libjansson-dev libssl-dev zlib1g-dev \
             libsqlite3-dev
DEB_TEST  := python3 python3-msgpack systemd util-linux procps groff-base jq \
             clang-14 libclang-rt-14-dev valgrind

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -MMD -MP \
               -fPIC $(SANFLAGS)
DAEMON_CFLAGS := $(CFLAGS_BASE) -Iprotocol -Idaemon $(shell pkg-config --cflags $(PKGS_DAEMON) 2>/dev/null)
DAEMON_LIBS   := $(shell pkg-config --libs $(PKGS_DAEMON) 2>/dev/null) -lm
CLIENT_CFLAGS := $(CFLAGS_BASE) -Iprotocol -Iclient $(shell pkg-config --cflags $(PKGS_CLIENT) 2>/dev/null)
CLIENT_LIBS   := $(shell pkg-config --libs $(PKGS_CLIENT) 2>/dev/null) -lm
LDFLAGS_ALL   := $(SANFLAGS)

PROTO_SRC   := $(wildcard protocol/*.c)
DAEMON_SRC  := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/providers/*.c))
CLIENT_SRC  := client/llmux.c
CLI_SRC     := client/cli.c
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
# The version is defined once, in daemon/version.h.
VERSION     := $(shell sed -n 's/^\#define LLMUX_DAEMON_VERSION "\(.*\)"/\1/p' daemon/version.h)

.PHONY: all deps run test unit clean install install-files uninstall \
        check check-units
all: $(LLMUXD) $(LLMUX) $(LIBSO) $(LIBA) $(UNIT) $(PCFILE) $(CLIENTTEST)

deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "deps: missing$$missing and not root (no sudo): install them" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

$(B)/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DAEMON_CFLAGS) -c $< -o $@

$(B)/obj/protocol/%.o: protocol/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CLIENT_CFLAGS) -c $< -o $@

$(B)/obj/client/%.o: client/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CLIENT_CFLAGS) -c $< -o $@

$(B)/obj/tests/unit/%.o: tests/unit/%.c
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

$(LLMUX): $(B)/obj/client/cli.o $(B)/obj/client/clikeys.o $(LIBA)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS)

$(CLIENTTEST): tests/integration/client-test.c $(LIBA)
	$(CC) $(CLIENT_CFLAGS) -o $@ $< $(LIBA) $(CLIENT_LIBS)

$(UNIT): $(UNIT_OBJ) $(DAEMON_OBJ) $(PROTO_OBJ) $(CLIENT_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DAEMON_LIBS)

$(PCFILE): client/llmux.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

unit: $(UNIT)
	$(UNIT)

# The whole suite: C unit tests, then the real daemon, library and shell
# helper against the fake providers. Ends with "N passed, N failed".
test: deps all
	@rc=0; $(MAKE) --no-print-directory check-units || rc=1; \
	$(PYTHON) tests/run.py --build $(B) || rc=1; exit $$rc

check: test

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
	install -m 0644 client/llmux.h protocol/llmux-errno.h \
	    $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|^libdir=.*|libdir=$(LIBDIR)|' \
	    -e 's|^includedir=.*|includedir=$(INCLUDEDIR)|' \
	    client/llmux.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/llmux.pc
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
	    $(DESTDIR)$(INCLUDEDIR)/llmux.h $(DESTDIR)$(INCLUDEDIR)/llmux-errno.h \
	    $(DESTDIR)$(UNITDIR)/llmux.service $(DESTDIR)$(UNITDIR)/llmux.socket \
	    $(DESTDIR)$(SYSUSERSDIR)/llmux.conf $(DESTDIR)$(TMPFILESDIR)/llmux.conf \
	    $(DESTDIR)$(MANDIR)/man8/llmuxd.8 $(DESTDIR)$(MANDIR)/man1/llmux.1 \
	    $(DESTDIR)$(MANDIR)/man3/libllmux.3 $(DESTDIR)$(MANDIR)/man5/llmux.yaml.5

# llmuxd in the foreground on the example config; `llmux chat` (from
# build/) finds the socket through the same defaults.
run: deps all
	@echo "llmuxd: starting on etc/llmux.yaml (Ctrl-C stops it)"
	@echo "try:    $(LLMUX) chat -m mock/echo \"hi\""
	$(LLMUXD) -c etc/llmux.yaml

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
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -g -MMD -MP \
               $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Iprotocol -Idaemon \
               -Idaemon/providers $(shell pkg-config --cflags $(PKGS_DAEMON) 2>/dev/null)
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS   := $(FUZZ_NAMES:%=$(FB)/fuzz-%)
FUZZ_OBJ    := $(PROTO_SRC:%.c=$(FB)/obj/%.o) $(DAEMON_SRC:%.c=$(FB)/obj/%.o)

BENCH_BINS  := $(B)/bench-upstream $(B)/llmux-bench
BENCH_ARGS  ?=

.PHONY: fuzz fuzz-build bench memcheck soak clean-harden
test: fuzz-build
clean: clean-harden

$(FB)/obj/%.o: %.c
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

$(B)/bench-upstream: tests/bench/upstream.c
	$(CC) $(CFLAGS_BASE) -o $@ $< $(LDFLAGS_ALL)

$(B)/llmux-bench: tests/bench/bench.c tests/bench/loadgen.c tests/bench/loadgen.h $(LIBA)
	$(CC) $(CLIENT_CFLAGS) -Itests/bench -pthread -o $@ tests/bench/bench.c \
	    tests/bench/loadgen.c $(LIBA) $(CLIENT_LIBS) $(LDFLAGS_ALL)

bench: all $(BENCH_BINS)
	$(B)/llmux-bench --llmuxd $(LLMUXD) --upstream $(B)/bench-upstream $(BENCH_ARGS)

memcheck: deps all
	$(PYTHON) tests/bench/memcheck.py --build $(B)

soak: deps all
	$(PYTHON) tests/bench/soak.py --build $(B) --seconds $(SOAK_SECONDS)

clean-harden:
	rm -rf $(FB)

-include $(shell find $(FB) -name '*.d' 2>/dev/null)
