# Makefile -- the only build entry point of llmux.
#   make            build everything into build/
#   make deps       install the Debian packages the build and tests need
#   make run        build, then run llmuxd in the foreground on etc/llmux.yaml
#   make test       build, then run the whole test suite
# SANITIZE=1 builds with ASan+UBSan into build-san/ (make test SANITIZE=1).

PREFIX      ?= /usr/local
DESTDIR     ?=
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

PKGS_DAEMON := libuv libcurl msgpack yaml-0.1 jansson libsystemd libcrypto zlib
PKGS_CLIENT := msgpack

# Debian packages: build, then what the tests use.
DEB_BUILD := build-essential pkg-config libuv1-dev libcurl4-openssl-dev libmsgpack-dev \
             libyaml-dev libsystemd-dev libjansson-dev libssl-dev zlib1g-dev
DEB_TEST  := python3 python3-msgpack systemd util-linux procps

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
VERSION     := 0.1.0

.PHONY: all deps run test unit clean install check
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

$(LLMUX): $(B)/obj/client/cli.o $(LIBA)
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
	$(PYTHON) tests/run.py --build $(B)

check: test

# llmuxd in the foreground on the example config; `llmux chat` (from
# build/) finds the socket through the same defaults.
run: deps all
	@echo "llmuxd: starting on etc/llmux.yaml (Ctrl-C stops it)"
	@echo "try:    $(LLMUX) chat -m mock/echo \"hi\""
	$(LLMUXD) -c etc/llmux.yaml

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
