# SPDX-License-Identifier: GPL-2.0
#
# abusewatch build. `make` builds build/abusewatch; `make run` and `make test`
# also install what is missing first (scripts/install-deps). V=1 shows the
# full commands.

OUTPUT     := build
CLANG      ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL    ?= bpftool
CC         ?= cc
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
VERSION    := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/riscv64/riscv/' -e 's/s390x/s390/')

# The BPF programs are compiled against the kernel types in the tree,
# vmlinux/$(ARCH)/vmlinux.h, not against the build host's kernel: a package
# builds the same on any host, and CO-RE fits the objects to the running
# kernel at load. `make vmlinux` regenerates this architecture's header from
# the host's BTF (VMLINUX_BTF); scripts/gen-vmlinux makes one for another
# architecture from a kernel image. See vmlinux/README.md.
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VMLINUX_DIR := vmlinux/$(ARCH)
VMLINUX_H   := $(VMLINUX_DIR)/vmlinux.h

# Libraries are looked up only when a C file is actually compiled, so that
# `make run` on a bare machine can install them before anything needs them.
PKGS        := libbpf libelf zlib yaml-0.1 json-c libcurl libcrypto
# `abusewatch top` draws with ncurses (user/top/top.c).
PKGS        += ncursesw
# Executables are scanned with YARA rules (user/rules/content.c).
PKGS        += yara
# libcurl's headers only: the agent loads it at its first HTTP request
# (user/sinks/http.c), so that its two dozen libraries are not resident in
# an agent that never sends; it must still be installed to send alerts
# (debian/control names it, since the linker no longer does).
LINK_PKGS   := $(filter-out libcurl,$(PKGS))
PKG_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS     = $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null || \
		 echo -lbpf -lelf -lz -lyaml -ljson-c -lcrypto -lncursesw -ltinfo -lyara) -lpthread -lm -ldl

CFLAGS   ?= -g -O2
# Sanitizer flags of the agent, its modules and the unit tests (not of the
# load tools, BPF objects or bench programs): set by `make sanitize` and
# `make fuzz` for their own build directories, empty otherwise.
SAN_FLAGS ?=
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
	    -D_GNU_SOURCE -DABUSEWATCH_VERSION='"$(VERSION)"'
# user/ is the pipeline: probes/ -> tenancy/ -> rules/ -> sinks/, with lib/
# for the helpers they share; headers are included by name from every folder.
USER_DIRS := user user/lib user/probes user/tenancy user/rules user/sinks
# user/top/ is `abusewatch top`, a reader of what the pipeline writes.
USER_DIRS += user/top
CPPFLAGS += -Iinclude $(addprefix -I,$(USER_DIRS)) -I$(OUTPUT) -MMD -MP
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	    -Iinclude -I$(VMLINUX_DIR) -MMD -MP

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELETONS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# Only the probe loader needs the skeletons (and so clang, bpftool and BTF);
# the collector and the agent need the loader. Everything else is pure logic
# that the unit tests link without them.
PROBE_SRCS := user/probes/probes.c
AGENT_SRCS := user/main.c user/agent.c user/resume.c user/router.c user/probes/collect.c user/tenancy/tracker.c \
	      user/rules/socket_policy.c \
	      $(PROBE_SRCS)
# top's terminal loop: the unit tests link its model and view, not curses.
AGENT_SRCS += user/top/top.c
LIB_SRCS   := $(filter-out $(AGENT_SRCS),$(wildcard $(addsuffix /*.c,$(USER_DIRS))))
obj_of      = $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(1))
LIB_OBJS   := $(call obj_of,$(LIB_SRCS)) \
	      $(OUTPUT)/user/default_config.o $(OUTPUT)/user/rules/software_data.o \
	      $(OUTPUT)/user/rules/network_data.o
AGENT_OBJS := $(call obj_of,$(AGENT_SRCS))
PROBE_OBJS := $(call obj_of,$(PROBE_SRCS))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(OUTPUT)/tools/%,$(TOOL_SRCS))

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS)
.PHONY: all deps run test bench soak bench-tools unit-tests test-tools clean install uninstall vmlinux
.PHONY: deb image package-test
.PHONY: fuzz fuzz-targets sanitize valgrind

all: $(OUTPUT)/abusewatch

deps:
	$(Q)scripts/install-deps

# Running needs only the build set; the test set (Prometheus, Alertmanager,
# load generators) is installed by `make test`.
run:
	$(Q)scripts/install-deps --build-only
	$(Q)$(MAKE) all
	$(Q)$(OUTPUT)/abusewatch run $(RUN_ARGS)

test: deps
	$(Q)$(MAKE) all unit-tests test-tools
	$(Q)tests/run-tests

# What the agent costs, side by side in one run (tests/bench/, scripts/bench):
# a table, and build/bench.json.
bench:
	$(Q)scripts/install-deps --bench
	$(Q)$(MAKE) all test-tools bench-tools
	$(Q)scripts/bench $(BENCH_PARTS)

# The agent for SOAK_SECONDS under cgroup churn, exec storms and load, then
# checks that memory, open files and map entries stayed flat (tests/soak/).
SOAK_SECONDS ?= 1800
soak:
	$(Q)$(MAKE) all test-tools
	$(Q)SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/soak.sh

unit-tests: $(UNIT_BINS)
test-tools: $(TOOL_BINS)

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/tools:
	$(Q)mkdir -p $@

# Regenerates the shipped header from this host's kernel; commit the result
# and update vmlinux/README.md.
vmlinux:
	$(call msg,GEN,$(VMLINUX_H))
	$(Q)BPFTOOL=$(BPFTOOL) scripts/gen-vmlinux $(ARCH) $(VMLINUX_BTF)

# An architecture without a shipped header stops the build. Falling back to
# the host's BTF would bring back what the shipped headers remove: objects
# that depend on whichever kernel the build machine runs.
$(VMLINUX_H):
	@echo "error: no $@ for ARCH=$(ARCH): run 'make vmlinux' on such a" \
		"host (or scripts/gen-vmlinux $(ARCH) KERNEL_IMAGE) and commit it" >&2
	@exit 1

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@ 2>/dev/null || true

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -c $< -o $@

# The loader includes the skeletons: they are built first.
$(PROBE_OBJS): $(SKELETONS)

# The default configuration is compiled in as data (see user/default_config.S).
$(OUTPUT)/user/default_config.o: user/default_config.S data/default.yaml
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -Idata -c $< -o $@

# The built-in software name sets and command-line markers, likewise.
$(OUTPUT)/user/rules/software_data.o: user/rules/software_data.S $(wildcard data/software/*.txt) \
				     $(wildcard data/software/*.yar)
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -Idata/software -c $< -o $@

# The built-in network data (stratum markers, pool domains), likewise.
$(OUTPUT)/user/rules/network_data.o: user/rules/network_data.S $(wildcard data/network/*.txt)
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -Idata/network -c $< -o $@

$(OUTPUT)/abusewatch: $(AGENT_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) $^ $(PKG_LIBS) -o $@

# Unit tests link the pure-logic modules only: no BPF toolchain needed.
$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) $< $(LIB_OBJS) \
		$(PKG_LIBS) -lcmocka -o $@

$(OUTPUT)/tools/%: tests/tools/%.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# poolclient, the mining client of tests/e2e/test_wire.sh, speaks TLS to its
# fake pool: libssl (of libssl-dev, a build dependency already).
TOOL_TLS_LIBS = $(shell $(PKG_CONFIG) --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)

$(OUTPUT)/tools/poolclient: tests/tools/poolclient.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(TOOL_TLS_LIBS) -o $@

# ---------------------------------------------------------------- bench
# Programs of `make bench` (tests/bench/). A bench program links the
# pure-logic modules, as the unit tests do, to time one of them alone
# (textfile_bench: metrics_write at 10,000 tenants). The empty reference
# programs that probes.sh measures the agent's probes against are built with
# the agent's BPF flags, so the comparison is like for like; their loader
# needs only libbpf.
BENCH_DIR  := $(OUTPUT)/bench
BENCH_SRCS := $(filter-out %.bpf.c tests/bench/attach_empty.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BENCH_DIR)/%,$(BENCH_SRCS)) $(BENCH_DIR)/attach_empty
BENCH_BPF  := $(patsubst tests/bench/%.bpf.c,$(BENCH_DIR)/%.bpf.o,$(wildcard tests/bench/*.bpf.c))

bench-tools: $(BENCH_BINS) $(BENCH_BPF)

$(BENCH_DIR):
	$(Q)mkdir -p $@

$(BENCH_DIR)/%.bpf.o: tests/bench/%.bpf.c $(VMLINUX_H) | $(BENCH_DIR)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@ 2>/dev/null || true

$(BENCH_DIR)/attach_empty: tests/bench/attach_empty.c | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $< $(PKG_LIBS) -o $@

$(BENCH_DIR)/%: tests/bench/%.c $(LIB_OBJS) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $< $(LIB_OBJS) $(PKG_LIBS) -o $@

# exit0 is what the exec bursts run: without a C library where it can be
# (see tests/tools/exit0.c), so that an exec costs what the kernel and the
# probes make it cost.
ifneq ($(filter x86 arm64,$(ARCH)),)
EXIT0_FLAGS := -DAW_EXIT0_NOLIBC -static -nostdlib -fno-stack-protector -fno-pie -no-pie
endif

$(OUTPUT)/tools/exit0: tests/tools/exit0.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(EXIT0_FLAGS) $< -o $@
# ---------------------------------------------------------------- end bench

# ---------------------------------------------------------------- fuzz, sanitize, valgrind
# `make fuzz`: the libFuzzer targets of tests/fuzz/ (one fuzz_NAME.c each),
# built with clang, ASan and UBSan in build/fuzz, each run for FUZZ_SECONDS
# from its seeds (tests/fuzz/corpus/NAME/) within FUZZ_RSS_MB of memory by
# tests/fuzz/run; fails when one crashes. What a target found is kept in
# build/fuzz/crashes/.
# `make sanitize`: the agent and the unit tests built with ASan and UBSan in
# build/sanitize (UBSan fatal too), and every test of `make test` run
# against them (tests/run-tests AW_BUILD=build/sanitize); a sanitizer
# report fails the test it came from. SANITIZE_TESTS: globs, as run-tests takes.
# `make valgrind`: the agent under valgrind for VALGRIND_SECONDS with a
# realistic configuration and tenants at work, restarted halfway
# (tests/leaks/valgrind.sh); fails on any error or definite or indirect leak.
SANITIZE_DIR     := $(OUTPUT)/sanitize
FUZZ_DIR         := $(OUTPUT)/fuzz
SANITIZE_FLAGS   := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		    -fno-sanitize-recover=all
FUZZ_SECONDS     ?= 60
FUZZ_RSS_MB      ?= 2048
FUZZ_TARGETS     := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
VALGRIND_SECONDS ?= 60

fuzz: deps
	$(Q)$(MAKE) OUTPUT=$(FUZZ_DIR) CC=$(CLANG) \
		SAN_FLAGS='$(SANITIZE_FLAGS) -fsanitize=fuzzer-no-link' fuzz-targets
	$(Q)tests/fuzz/run --dir $(FUZZ_DIR) --seconds $(FUZZ_SECONDS) --rss-mb $(FUZZ_RSS_MB) \
		$(FUZZ_TARGETS)

sanitize: deps
	$(Q)$(MAKE) test-tools
	$(Q)$(MAKE) OUTPUT=$(SANITIZE_DIR) CC=$(CLANG) SAN_FLAGS='$(SANITIZE_FLAGS)' all unit-tests
	$(Q)AW_BUILD=$(SANITIZE_DIR) tests/run-tests $(SANITIZE_TESTS)

valgrind: deps
	$(Q)$(MAKE) all test-tools
	$(Q)VALGRIND_SECONDS=$(VALGRIND_SECONDS) tests/leaks/valgrind.sh

# Only in the sub-make of `make fuzz` (OUTPUT=build/fuzz, the flags above):
# a target links the pure-logic modules, as a unit test does; the event
# decoders' also the cgroup tracker, with the collector stubbed.
fuzz-targets: $(addprefix $(OUTPUT)/bin/,$(FUZZ_TARGETS))

$(OUTPUT)/bin:
	$(Q)mkdir -p $@

$(OUTPUT)/bin/fuzz_events: FUZZ_EXTRA_OBJS = $(OUTPUT)/user/tenancy/tracker.o
$(OUTPUT)/bin/fuzz_events: $(OUTPUT)/user/tenancy/tracker.o

$(OUTPUT)/bin/%: tests/fuzz/%.c $(LIB_OBJS) | $(OUTPUT)/bin
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CC) $(CPPFLAGS) -Itests/fuzz $(CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) $< \
		$(FUZZ_EXTRA_OBJS) $(LIB_OBJS) $(PKG_LIBS) -o $@
# ---------------------------------------------------------------- end fuzz, sanitize, valgrind

# ---------------------------------------------------------------- install
# `make install PREFIX=/usr/local DESTDIR=`: the binary, the man pages, the
# reference and an example with every key, the systemd unit (its ExecStart
# pointed at SBINDIR), and /etc/abusewatch/abusewatch.yaml (the embedded
# default) unless one is there already. The configuration stays in /etc
# whatever PREFIX is: the agent reads it there. `make uninstall` removes what
# install put there, the configuration only while it is unchanged, and
# never what the agent wrote (state_dir, the events log, the textfile); on
# the live system (no DESTDIR) it first removes the probes the installed
# agent left pinned (`abusewatch unpin`), which nothing would read any more.
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/abusewatch
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR     ?= /etc
EXAMPLE_CONFIG := tests/unit/configs/example.yaml
DOC_PAGES      := cli.md configuration.md metrics.md alerts.md
INSTALLED_CONFIG = $(DESTDIR)$(SYSCONFDIR)/abusewatch/abusewatch.yaml

install: $(OUTPUT)/abusewatch
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(OUTPUT)/abusewatch $(DESTDIR)$(SBINDIR)/abusewatch
	$(Q)install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/abusewatch
	$(Q)sed '/^\.TH/s/"abusewatch [^"]*"/"abusewatch $(VERSION)"/' docs/man/abusewatch.8 \
		> $(DESTDIR)$(MANDIR)/man8/abusewatch.8
	$(Q)sed '/^\.TH/s/"abusewatch [^"]*"/"abusewatch $(VERSION)"/' docs/man/abusewatch.yaml.5 \
		> $(DESTDIR)$(MANDIR)/man5/abusewatch.yaml.5
	$(Q)chmod 0644 $(DESTDIR)$(MANDIR)/man8/abusewatch.8 $(DESTDIR)$(MANDIR)/man5/abusewatch.yaml.5
	$(Q)install -m 0644 $(addprefix docs/,$(DOC_PAGES)) $(DESTDIR)$(DOCDIR)/
	$(Q)install -m 0644 $(EXAMPLE_CONFIG) $(DESTDIR)$(DOCDIR)/abusewatch.example.yaml
	$(Q)sed 's|/usr/sbin/abusewatch|$(SBINDIR)/abusewatch|g' deploy/systemd/abusewatch.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/abusewatch.service
	$(Q)chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/abusewatch.service
	$(Q)[ -e $(INSTALLED_CONFIG) ] || install -m 0644 data/default.yaml $(INSTALLED_CONFIG)

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)if [ -z "$(DESTDIR)" ] && [ -x $(SBINDIR)/abusewatch ]; then \
		$(SBINDIR)/abusewatch unpin $$([ -e $(INSTALLED_CONFIG) ] && echo -c $(INSTALLED_CONFIG)) \
			>/dev/null 2>&1 || true; fi
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/abusewatch $(DESTDIR)$(MANDIR)/man8/abusewatch.8 \
		$(DESTDIR)$(MANDIR)/man5/abusewatch.yaml.5 $(DESTDIR)$(SYSTEMDUNITDIR)/abusewatch.service \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(DOC_PAGES) abusewatch.example.yaml)
	$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	$(Q)if cmp -s data/default.yaml $(INSTALLED_CONFIG); then rm -f $(INSTALLED_CONFIG); \
	elif [ -e $(INSTALLED_CONFIG) ]; then echo "  kept     $(INSTALLED_CONFIG) (changed)"; fi
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/abusewatch 2>/dev/null || true
# ---------------------------------------------------------------- end install

# ---------------------------------------------------------------- package
# `make deb`: build/package/abusewatch_VERSION_ARCH.deb (dpkg-buildpackage in
# a copy of the tree); `make image`: build/package/abusewatch-VERSION-oci.tar
# (mmdebstrap and umoci, no image registry); `make package-test`: both, then
# the tests that install the package into a scratch root, run the image as
# the DaemonSet does and boot the unit under systemd in a container
# (tests/e2e/test_pkg_*.sh; minutes, Debian's archive).
deb:
	$(Q)scripts/build-deb

image:
	$(Q)scripts/build-image

package-test:
	$(Q)scripts/install-deps --package
	$(Q)$(MAKE) all test-tools
	$(Q)AW_PACKAGE_TESTS=1 E2E_TIMEOUT=900 tests/run-tests 'test_pkg_*'
# ---------------------------------------------------------------- end package

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/bench/*.d $(OUTPUT)/bin/*.d \
	$(patsubst user%,$(OUTPUT)/user%/*.d,$(USER_DIRS)))
