# gensup: one non-recursive Makefile.
#
#   make                      build everything (-Wall -Wextra -Werror)
#   make check                build and run every test
#   make run                  start the demo (see README.md)
#   make bench                run the benchmarks (quick, < 5 min on an idle machine)
#   make bench-full           all of them, at scale (also: make bench BENCH=full or BENCH_FULL=1)
#   make SANITIZE=address,undefined check
#   make valgrind-check       the tests again under valgrind
#   make chaos                servers killed at random under call load (CHAOS_SECONDS)
#   make stress-check         the integration suites 10 times on busy CPUs
#   make fuzz                 libFuzzer on every harness in fuzz/ (FUZZ_SECONDS each)
#   make deb-check            build the .deb packages, lintian, install, run the demo, purge
#   make install PREFIX=/usr/local DESTDIR=
#   make uninstall PREFIX=/usr/local DESTDIR=
#
# `make check`, `make run` and the other targets that run things install
# missing Debian packages first (tools/install-deps); a plain `make` or
# `make install` never does: it names what is missing and stops.
#
# CPPFLAGS, CFLAGS and LDFLAGS from the environment are honoured (as
# dpkg-buildflags gives them). Warnings are errors in a git checkout
# (development and CI), not in a build from a release: WERROR= or
# WERROR=-Werror overrides.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/gensup
# Where systemd looks for units, as its pkg-config file says: its own
# answer for PREFIX=/usr, else the same place under PREFIX.
SYSTEMD_PC_ARGS := $(if $(filter /usr,$(PREFIX)),,--define-variable=rootprefix=$(PREFIX))
UNITDIR ?= $(or $(shell pkg-config $(SYSTEMD_PC_ARGS) --variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
# Where bash-completion looks, as its pkg-config file says (under PREFIX),
# else its usual place.
COMPLETIONSDIR ?= $(or $(shell pkg-config --define-variable=prefix=$(PREFIX) --variable=completionsdir bash-completion 2>/dev/null),$(DATADIR)/bash-completion/completions)

VERSION := 0.1.0
# gensup.pc gives programs an rpath to libgensup where the loader does
# not look by itself (gensup(3), LINKING): any LIBDIR but the system ones.
comma := ,
PC_RPATH = $(if $(filter /usr/lib /lib /usr/lib/%-linux-gnu /lib/%-linux-gnu,$(LIBDIR)),,-Wl$(comma)-rpath$(comma)$${libdir} )
SOVERSION := 0

SANITIZE ?=
ifeq ($(SANITIZE),)
B ?= build
else
B ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CC ?= cc
PKGS := libsystemd libprotobuf-c libconfig jansson
# gensupctl alone: metrics --listen (libmicrohttpd), top (ncursesw).
CTL_PKGS := libmicrohttpd ncursesw
CTL_DEP_LIBS = $(eval CTL_DEP_LIBS := $(shell pkg-config --libs $(CTL_PKGS)))$(CTL_DEP_LIBS)
# pkg-config runs once, after the dependencies are installed (lazy, cached).
DEP_CFLAGS = $(eval DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(DEP_CFLAGS)
DEP_LIBS = $(eval DEP_LIBS := $(shell pkg-config --libs $(PKGS)))$(DEP_LIBS)
# libgensup links libc and libprotobuf-c only: its event loop is its own
# (worker/loop.c); gs_server_event() loads libsystemd when asked.
LIB_DEP_LIBS = $(eval LIB_DEP_LIBS := $(shell pkg-config --libs libprotobuf-c))$(LIB_DEP_LIBS)
CHECK_CFLAGS = $(eval CHECK_CFLAGS := $(shell pkg-config --cflags check))$(CHECK_CFLAGS)
CHECK_LIBS = $(eval CHECK_LIBS := $(shell pkg-config --libs check))$(CHECK_LIBS)

WERROR ?= $(if $(wildcard .git),-Werror)
WARN := -Wall -Wextra $(WERROR) -Wno-unused-parameter -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
OPT ?= -O2 -g
ALL_CFLAGS = -std=gnu17 $(OPT) $(WARN) -fPIC -D_GNU_SOURCE $(SAN_FLAGS) \
	-Iinclude -Iipc -Iworker -Isupervisor -I$(B)/proto -I$(B)/examples $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)


all: programs

# ---- dependencies ----
# Only the targets that run something may install packages.
INSTALLING_GOALS := check run valgrind-check bench bench-full deps stress-check chaos fuzz deb-check
INSTALL_DEPS := $(if $(filter $(INSTALLING_GOALS),$(MAKECMDGOALS)),,--check)
# A plain build checks for the build dependencies only; the targets that
# run things install the rest too (a stamp of their own).
DEPS_STAMP := $(B)/.deps-$(if $(INSTALL_DEPS),build,all)

$(DEPS_STAMP): tools/install-deps
	@mkdir -p $(@D)
	@tools/install-deps $(INSTALL_DEPS)
	@touch $@

deps: $(DEPS_STAMP)

# ---- generated protobuf code (build folder only) ----
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --c_out=$(B)/proto $<

$(B)/examples/%.pb-c.c $(B)/examples/%.pb-c.h: examples/%.proto | $(DEPS_STAMP)
	@mkdir -p $(@D)
	protoc-c --proto_path=examples --c_out=$(B)/examples $<

EXAMPLE_PROTO := $(wildcard examples/*.proto)
GEN_HEADERS := $(B)/proto/gensup.pb-c.h $(patsubst examples/%.proto,$(B)/examples/%.pb-c.h,$(EXAMPLE_PROTO))

# ---- compile ----
$(B)/obj/%.o: %.c $(GEN_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/%.o: $(B)/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

# ---- libgensup ----
LIB_SRC := $(wildcard ipc/*.c) $(wildcard worker/*.c)
LIB_OBJ := $(call obj,$(LIB_SRC)) $(B)/obj/$(B)/proto/gensup.pb-c.o
LIB_A := $(B)/lib/libgensup.a
LIB_SO := $(B)/lib/libgensup.so.$(VERSION)

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ) worker/libgensup.sym
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libgensup.so.$(SOVERSION) -Wl,--version-script=worker/libgensup.sym \
		$(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(LIB_DEP_LIBS)
	ln -sf libgensup.so.$(VERSION) $(B)/lib/libgensup.so.$(SOVERSION)
	ln -sf libgensup.so.$(VERSION) $(B)/lib/libgensup.so

# Our own programs link the static library (no rpath games in tests).
link = $(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(DEP_LIBS)

# ---- supervisor: gensupd and gensupctl ----
SUP_SRC := $(filter-out supervisor/gensupd.c,$(wildcard supervisor/*.c))
SUP_OBJ := $(call obj,$(SUP_SRC))
# gensupctl (supervisor/ctl/) is a client of the control socket: it links
# libgensup (ipc/, the proto, the client API) and the command table it
# shares with control.c, and no other gensupd object.
CTL_SRC := $(wildcard supervisor/ctl/*.c) supervisor/commands.c
CTL_OBJ := $(call obj,$(CTL_SRC))
SUP_BIN := $(if $(wildcard supervisor/gensupd.c),$(B)/bin/gensupd) $(if $(wildcard supervisor/ctl/main.c),$(B)/bin/gensupctl)

$(B)/bin/gensupd: $(B)/obj/supervisor/gensupd.o $(SUP_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(link)

$(B)/bin/gensupctl: $(CTL_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(link) $(CTL_DEP_LIBS)

# ---- examples: one program per examples/*.c ----
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRC))
KITTY_OBJ := $(patsubst examples/%.proto,$(B)/obj/$(B)/examples/%.pb-c.o,$(EXAMPLE_PROTO))

# test_server is for the tests only: not installed.
INSTALL_EXAMPLE_BIN := $(filter-out $(B)/examples/test_server,$(EXAMPLE_BIN))

$(B)/examples/%: $(B)/obj/examples/%.o $(KITTY_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(link)

# ---- tests ----
# Unit suites: tests/check_<module>.c, each exporting <module>_suite().
# Integration suites: tests/integration/check_<name>.c, run against the
# real programs in $(B). One runner (tests/runner.c) per group.
UNIT_SRC := $(wildcard tests/check_*.c)
IT_SRC := $(wildcard tests/integration/check_*.c)
IT_HELPER_SRC := $(filter-out $(IT_SRC),$(wildcard tests/integration/*.c))

$(B)/tests/unit-suites.h: $(UNIT_SRC) Makefile
	@mkdir -p $(@D)
	@printf '%s\n' $(patsubst tests/check_%.c,'SUITE(%)',$(UNIT_SRC)) > $@

$(B)/tests/integration-suites.h: $(IT_SRC) Makefile
	@mkdir -p $(@D)
	@printf '%s\n' $(patsubst tests/integration/check_%.c,'SUITE(%)',$(IT_SRC)) > $@

TEST_CFLAGS = $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -I$(B)/tests -DGS_BUILD_DIR='"$(abspath $(B))"' -DGS_SOURCE_DIR='"$(CURDIR)"'

$(B)/obj/tests/%.o: tests/%.c $(GEN_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/tests/unit-runner.o: tests/runner.c $(B)/tests/unit-suites.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DSUITES_H='"unit-suites.h"' -c -o $@ $<

$(B)/obj/tests/integration-runner.o: tests/runner.c $(B)/tests/integration-suites.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DSUITES_H='"integration-suites.h"' -c -o $@ $<

$(B)/tests/check-unit: $(B)/obj/tests/unit-runner.o $(call obj,$(UNIT_SRC)) $(SUP_OBJ) $(KITTY_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(CHECK_LIBS) $(DEP_LIBS)

$(B)/tests/check-integration: $(B)/obj/tests/integration-runner.o $(call obj,$(IT_SRC) $(IT_HELPER_SRC)) $(KITTY_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(CHECK_LIBS) $(DEP_LIBS)

# The chaos test (tests/chaos/chaos.c): gensupd, servers and clients
# under random kills; make chaos runs it for CHAOS_SECONDS.
$(B)/tests/chaos: $(B)/obj/tests/chaos/chaos.o $(LIB_A)
	@mkdir -p $(@D)
	$(link)

TEST_BIN := $(B)/tests/check-unit $(if $(IT_SRC),$(B)/tests/check-integration) $(B)/tests/chaos

# ---- benchmarks: one program per bench/*.c ----
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

$(B)/bench/%: $(B)/obj/bench/%.o $(KITTY_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(link)

# top's refresh on the client, without a terminal (bench/top_refresh.c).
$(B)/bench/top_refresh: $(B)/obj/bench/top_refresh.o $(B)/obj/supervisor/ctl/top_model.o $(LIB_A)
	@mkdir -p $(@D)
	$(link)

# ---- fuzzing: one harness per fuzz/fuzz_<target>.c ----
# make check links each with fuzz/driver.c (a plain main that runs it over
# its seed corpus once, no clang needed); make fuzz links them with
# libFuzzer (clang, ASan, UBSan) into build-fuzz and fuzzes each target
# for FUZZ_SECONDS (and at most FUZZ_RUNS inputs, when set).
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 0
FUZZ_B := build-fuzz
FUZZ_DRIVER_BIN := $(patsubst %,$(B)/fuzz/run-%,$(FUZZ_TARGETS))

$(B)/fuzz/run-%: $(B)/obj/fuzz/fuzz_%.o $(B)/obj/fuzz/driver.o $(SUP_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(link)

$(B)/fuzz/fuzz-%: $(B)/obj/fuzz/fuzz_%.o $(SUP_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o %.a,$^) $(DEP_LIBS)

fuzz-programs: $(patsubst %,$(B)/fuzz/fuzz-%,$(FUZZ_TARGETS))

fuzz:
	@tools/install-deps fuzz
	$(MAKE) B=$(FUZZ_B) CC=clang SANITIZE=address,undefined WERROR= CFLAGS=-fsanitize=fuzzer-no-link fuzz-programs
	nice tools/run-fuzz $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_TARGETS)

MAN_PAGES := $(wildcard man/*.[1-8])

# ---- top-level targets ----
programs: $(LIB_A) $(LIB_SO) $(SUP_BIN) $(EXAMPLE_BIN) $(BENCH_BIN)

check: programs $(TEST_BIN) $(FUZZ_DRIVER_BIN)
	$(B)/tests/check-unit
	@for t in $(FUZZ_TARGETS); do \
		LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0 \
			$(B)/fuzz/run-$$t fuzz/corpus/$$t > $(B)/fuzz/run-$$t.log 2>&1 </dev/null || \
			{ cat $(B)/fuzz/run-$$t.log; echo "fuzz corpus $$t: failed"; exit 1; }; done
	@echo "fuzz corpora ($(FUZZ_TARGETS)): every seed ran, no crash"
	$(if $(IT_SRC),$(B)/tests/check-integration)
	$(B)/tests/chaos $(B) 5
	tests/journal/journal-check.sh $(B)
	mandoc -Tlint -Wwarning $(MAN_PAGES)
	SANITIZE=$(SANITIZE) tools/check-install $(B) "$(SAN_FLAGS)"
	tools/run-demo $(B) --tour > $(B)/tour.log 2>&1 || { cat $(B)/tour.log; exit 1; }
	@echo "run-demo --tour: 1 passed, 0 failed"
	tests/view/test-completion $(B) > $(B)/completion.log 2>&1 || { cat $(B)/completion.log; exit 1; }
	@echo "tests/view/test-completion: passed"
	tests/view/test-top $(B) > $(B)/top.log 2>&1 || { cat $(B)/top.log; exit 1; }
	@echo "tests/view/test-top: passed"
	tools/check-examples $(B)
	tools/check-run-ctrlc $(B) "$(SANITIZE)"

# The tests again with our programs under valgrind: the unit runner in one
# process, and every gensupd, server and client the integration suites
# start (tests/integration/it.c honours GS_TEST_WRAPPER). Any error or
# definite leak fails it.
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite
valgrind-check: programs $(TEST_BIN)
	rm -rf $(B)/valgrind && mkdir -p $(B)/valgrind
	CK_FORK=no $(VALGRIND) --error-exitcode=99 $(B)/tests/check-unit
	GS_TEST_WRAPPER="$(VALGRIND) --log-file=$(abspath $(B))/valgrind/%p.log" $(B)/tests/check-integration
	@if grep -l '^==[0-9]*== ' $(B)/valgrind/*.log 2>/dev/null; then \
		cat $$(grep -l '^==[0-9]*== ' $(B)/valgrind/*.log); echo "valgrind-check: errors above"; exit 1; fi
	@echo "valgrind-check: no errors, no definite leaks"

CHAOS_SECONDS ?= 60
chaos: programs $(B)/tests/chaos
	$(B)/tests/chaos $(B) $(CHAOS_SECONDS)

# The integration suites STRESS_RUNS times while stress-ng keeps every
# CPU busy (tools/stress-check). Niced: it is meant to load the machine.
STRESS_RUNS ?= 10
stress-check: programs $(TEST_BIN)
	@tools/install-deps stress
	nice tools/stress-check $(B) $(STRESS_RUNS)

run: programs
	tools/run-demo $(B)

# The Debian packages (debian/): built with dpkg-buildpackage, lintian
# clean of errors, installed with dpkg, the demo's tour run from them,
# purged (tools/deb-check). Root; several minutes, so not part of check:
# .ci/run runs it after the other three.
deb-check:
	@tools/install-deps deb
	tools/deb-check

BENCH ?= quick
bench: programs
	BENCH_FULL=$(if $(filter full,$(BENCH)),1,$(BENCH_FULL)) bench/run $(B)

bench-full: programs
	BENCH_FULL=1 bench/run $(B)

# ---- install ----
install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(LIBEXECDIR)/gensup $(DESTDIR)$(DATADIR)/gensup $(DESTDIR)$(DOCDIR)/examples
	$(if $(SUP_BIN),install -m 0755 $(SUP_BIN) $(DESTDIR)$(BINDIR)/)
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libgensup.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgensup.so.$(SOVERSION)
	ln -sf libgensup.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgensup.so
	install -m 0644 include/gensup.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' -e 's|@RPATH@|$(PC_RPATH)|g' gensup.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/gensup.pc
	install -m 0755 $(INSTALL_EXAMPLE_BIN) $(DESTDIR)$(LIBEXECDIR)/gensup/
	install -m 0644 proto/gensup.proto $(DESTDIR)$(DATADIR)/gensup/
	install -m 0644 examples/demo.conf examples/kitty.proto examples/kitty_server.c examples/kitty.c \
		examples/echo_server.c examples/Containerfile examples/gensup-pod.yaml $(DESTDIR)$(DOCDIR)/examples/
	tools/install-man $(DESTDIR)$(MANDIR) $(MAN_PAGES)
	install -d $(DESTDIR)$(COMPLETIONSDIR)
	install -m 0644 completion/gensupctl $(DESTDIR)$(COMPLETIONSDIR)/gensupctl
	$(if $(wildcard supervisor/gensupd.service.in),install -d $(DESTDIR)$(UNITDIR) && \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' supervisor/gensupd.service.in \
		> $(DESTDIR)$(UNITDIR)/gensupd.service)

print-completionsdir:
	@echo $(COMPLETIONSDIR)

# Removes exactly what install put there, and the folders it made when
# they are left empty.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(SUP_BIN))) \
		$(addprefix $(DESTDIR)$(LIBDIR)/,libgensup.a libgensup.so libgensup.so.$(SOVERSION) libgensup.so.$(VERSION)) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/gensup.pc $(DESTDIR)$(INCLUDEDIR)/gensup.h \
		$(addprefix $(DESTDIR)$(LIBEXECDIR)/gensup/,$(notdir $(INSTALL_EXAMPLE_BIN))) \
		$(DESTDIR)$(DATADIR)/gensup/gensup.proto $(DESTDIR)$(UNITDIR)/gensupd.service \
		$(DESTDIR)$(COMPLETIONSDIR)/gensupctl
	rm -rf $(DESTDIR)$(DOCDIR)/examples
	tools/install-man --uninstall $(DESTDIR)$(MANDIR) $(MAN_PAGES)
	-rmdir $(DESTDIR)$(LIBEXECDIR)/gensup $(DESTDIR)$(DATADIR)/gensup $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build build-san $(FUZZ_B)

.PHONY: print-completionsdir all deps programs check valgrind-check run bench bench-full install uninstall clean fuzz fuzz-programs stress-check chaos \
	deb-check
.DELETE_ON_ERROR:
.SECONDARY:

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
