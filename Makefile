# SPDX-License-Identifier: GPL-2.0
#
# ownbuf - run-time ownership checking for kernel buffers.
#
#   make                 build the modules (against KDIR) and the tools
#   make check           the test command: builds kernels, boots them in QEMU,
#                        runs KUnit, the selftests and the static checks
#   make kunit           the KUnit suites built in, run by the kernel's own
#                        kunit.py in a kernel tree (KERNEL_SRC=, default the
#                        cached linux-source-6.12; KUNIT_ARCH=x86_64 or um;
#                        KUNIT_FLAGS=--kcsan, --build-only)
#   make sparse          sparse (C=2) on the module sources
#   make style           checkpatch.pl --strict on every source file
#   make borrowck        the ownership rules checked on the source
#                        (Coccinelle); FILES= the files or directories
#   make demo            boot Debian's stock 6.12 in QEMU and run "ownbuf demo"
#   make vm              an interactive guest shell with ownbuf loaded
#   make bench           benchmarks in a stock 6.12 guest
#   make deb             Debian packages ownbuf-dkms and ownbuf-tools
#   make install         the module into this kernel's tree (depmod),
#                        the tool and the UAPI header under PREFIX
#
# KDIR defaults to the running kernel's build tree.

KDIR ?= /lib/modules/$(shell uname -r)/build
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

CC ?= gcc
USER_CFLAGS := -O2 -g -Wall -Wextra -Werror -I$(TOP)/include/uapi

.PHONY: all modules tools clean check kunit sparse style borrowck demo vm \
	bench deb help install modules_install tools_install

all: modules tools

modules:
	@if [ ! -d "$(KDIR)" ]; then \
		echo "No kernel build tree at $(KDIR): install this kernel's headers, pass KDIR=/path/to/kernel/build, or run 'make check' to build and test in QEMU guests."; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules

# The command-line tool and the README's userspace example.  TOOLS_OUT and
# LDFLAGS build them elsewhere, e.g. static for a QEMU guest:
#   make tools TOOLS_OUT=build/guest LDFLAGS=-static
TOOLS_OUT ?= tools
TOOLS := $(TOOLS_OUT)/ownbuf $(TOOLS_OUT)/ownbuf-example

tools: $(TOOLS)

$(TOOLS_OUT)/ownbuf: tools/ownbuf.c tools/ownbuf_ls.c tools/ownbuf.h \
		     include/uapi/linux/ownbuf.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
		$(filter %.c,$^)

$(TOOLS_OUT)/ownbuf-example: tools/example.c include/uapi/linux/ownbuf.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(LDFLAGS) -o $@ $<

# The userspace half of "make bench" (not part of "tools"; bench.sh builds
# it static with TOOLS_OUT=build/bench/bin).
$(TOOLS_OUT)/ownbuf-bench: tools/bench/ownbuf_bench_user.c include/uapi/linux/ownbuf.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(LDFLAGS) -o $@ $<

check:
	$(TOP)/scripts/check.sh

KUNIT_ARCH ?= x86_64
kunit:
	KERNEL_SRC="$(KERNEL_SRC)" $(TOP)/scripts/kunit.sh --arch $(KUNIT_ARCH) \
		$(KUNIT_FLAGS)

sparse:
	$(TOP)/scripts/check.sh --only sparse

style:
	$(TOP)/scripts/check.sh --only style

# Default: the project's own kernel code (see scripts/borrowck/borrowck.sh).
borrowck:
	$(TOP)/scripts/borrowck/borrowck.sh $(FILES)

demo:
	$(TOP)/scripts/demo.sh

vm:
	$(TOP)/scripts/demo.sh --shell

bench:
	$(TOP)/scripts/bench.sh

deb:
	$(TOP)/scripts/deb.sh

# Without packages: the module alone (no KUnit, samples or bench) into
# /lib/modules/$(uname -r)/updates, as DKMS would put it; then depmod, so
# that "modprobe ownbuf" finds it.
modules_install:
	$(MAKE) -C $(KDIR) M=$(TOP)/module modules
	$(MAKE) -C $(KDIR) M=$(TOP)/module INSTALL_MOD_DIR=updates modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) \
		$$($(MAKE) -s --no-print-directory -C $(KDIR) kernelrelease)

PREFIX ?= /usr/local
tools_install: $(TOOLS_OUT)/ownbuf
	install -D -m 0755 $(TOOLS_OUT)/ownbuf $(DESTDIR)$(PREFIX)/bin/ownbuf
	install -D -m 0644 tools/ownbuf.1 $(DESTDIR)$(PREFIX)/share/man/man1/ownbuf.1
	install -D -m 0644 include/uapi/linux/ownbuf.h \
		$(DESTDIR)$(PREFIX)/include/linux/ownbuf.h

install: modules_install tools_install

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(TOP) clean; fi
	rm -f tools/ownbuf tools/ownbuf-example tools/ownbuf-bench
	rm -rf $(TOP)/build

help:
	@awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' \
		$(TOP)/Makefile
