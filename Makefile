# accel-broker: one entry point.  `make help` lists the targets.
VERSION := 0.1.0
B ?= build
CC ?= gcc
PKGS := libsystemd json-c libevent inih zlib
SAN ?=
FUZZ ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBSYSTEMD := $(shell pkg-config --libs libsystemd 2>/dev/null)
JSONC := $(shell pkg-config --libs json-c 2>/dev/null)
INIH := $(shell pkg-config --libs inih 2>/dev/null)
ZLIB := $(shell pkg-config --libs zlib 2>/dev/null)
LIBEVENT := $(shell pkg-config --libs libevent 2>/dev/null)
CMOCKA := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS ?= -O2 -g
ifneq ($(SAN),)
CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# The fuzz build (make fuzz): clang, every object instrumented for libFuzzer.
ifneq ($(FUZZ),)
override CC := clang
override CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif
WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wno-unused-parameter
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -D_GNU_SOURCE \
	-DACCEL_VERSION='"$(VERSION)"' -Iinclude -Icommon -I$(B)/gen $(PKG_CFLAGS) -pthread

COMMON_SRC := $(wildcard common/*.c)
# The daemon, a folder per part (docs/design.md draws them); its files
# include each other's headers by name.
DAEMON_DIRS := $(sort $(dir $(wildcard daemon/*/*.c daemon/*/*.h)))
DAEMON_INC := $(patsubst %/,-I%,$(DAEMON_DIRS))
DAEMON_SRC := $(filter-out daemon/service/main.c,$(wildcard daemon/*/*.c))
LIB_SRC := $(wildcard client/libaccel/*.c)
EVLIB_SRC := $(wildcard client/libaccel-event/*.c)
CTL_SRC := $(wildcard client/accelctl/*.c)
PRELOAD_SRC := $(wildcard client/preload/*.c)
RUN_SRC := $(wildcard client/accel-run/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

BROKER := $(B)/accel-broker
# The client libraries' own versions (not the package's VERSION): the file
# is NAME.so.MAJOR.MINOR.PATCH, its soname NAME.so.MAJOR (a new major is an
# ABI break: new Debian packages, libaccelN).  debian/*.symbols and
# tests/package-check follow these.
LIBACCEL_VERSION := 1.0.0
LIBACCEL_EVENT_VERSION := 1.0.0
somajor = $(firstword $(subst ., ,$(1)))
LIBACCEL_SONAME := libaccel.so.$(call somajor,$(LIBACCEL_VERSION))
LIBACCEL_EVENT_SONAME := libaccel-event.so.$(call somajor,$(LIBACCEL_EVENT_VERSION))
LIBACCEL_FILE := $(B)/libaccel.so.$(LIBACCEL_VERSION)
LIBACCEL_EVENT_FILE := $(B)/libaccel-event.so.$(LIBACCEL_EVENT_VERSION)
# What programs link (-laccel): the development link, through the soname's to the file.
LIBACCEL := $(B)/libaccel.so
LIBACCEL_EVENT := $(B)/libaccel-event.so
EVENT_EXAMPLE := $(B)/examples/accel-event-gzip
CTL := $(B)/accelctl
PRELOAD := $(B)/libaccel-preload.so
ACCEL_RUN := $(B)/accel-run
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(INTEG_SRC))
BENCH := $(B)/bench/accel-bench
CHURN := $(B)/bench/accel-churn
CHURN_OBJ := $(call obj,bench/churn.c bench/churn_client.c bench/churn_probe.c)

# make install: the standard directories, and the system ones from the
# .pc files of systemd, udev and D-Bus, moved under PREFIX.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/accel-broker
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# libaccel-preload.so, where accel-run looks for it (debian/rules: a private directory).
PRELOADDIR ?= $(LIBDIR)
pcvar = $(shell pkg-config --define-variable=prefix=$(PREFIX) --define-variable=rootprefix=$(PREFIX) \
	--variable=$(2) $(1) 2>/dev/null)
SYSTEMDUNITDIR ?= $(or $(call pcvar,systemd,systemdsystemunitdir),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(or $(call pcvar,systemd,sysusersdir),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR ?= $(or $(call pcvar,systemd,tmpfilesdir),$(PREFIX)/lib/tmpfiles.d)
UDEVRULESDIR ?= $(or $(call pcvar,udev,udevdir),$(PREFIX)/lib/udev)/rules.d
DBUSDIR ?= $(or $(call pcvar,dbus-1,datadir),$(DATADIR))/dbus-1

.PHONY: all deps demo check test unit integration bench clean help kmod vm-check vm-bench \
	install uninstall systemd-check deb-check fuzz fuzz-build lockdep-kernel suite private-clone-check
all: $(BROKER) $(LIBACCEL_FILE) $(LIBACCEL) $(CTL) $(PRELOAD) $(ACCEL_RUN) $(B)/accel.pc $(B)/accel-uninstalled.pc \
	$(LIBACCEL_EVENT_FILE) $(LIBACCEL_EVENT) $(B)/accel-event.pc $(EVENT_EXAMPLE)

help:
	@echo "make           build the broker, libaccel and accelctl into $(B)/"
	@echo "make demo      install what is missing, build, run the broker and real work through it"
	@echo "make check     install what is missing, build with ASan+UBSan, run every test"
	@echo "make bench     build optimized and print the benchmark figures as JSON"
	@echo "make kmod      build kmod/uacce.ko and kmod/accel_sim.ko (KDIR: kernel headers)"
	@echo "make vm-check  boot Debian's kernel in qemu and test modules, broker and clients there"
	@echo "make lockdep-kernel  build Debian's linux-source-6.1 with lockdep (cached in .cache/); then"
	@echo "               make vm-check KDIR=$(LOCKDEP)/build KIMAGE=$(LOCKDEP)/bzImage"
	@echo "make vm-bench  the same VM: direct uacce use vs the broker, kernel vs software engine (JSON)"
	@echo "make install   install into DESTDIR/PREFIX (default /usr/local; a service wants PREFIX=/usr)"
	@echo "make uninstall remove what make install put there (not the configuration file)"
	@echo "make systemd-check  boot a Debian root with systemd-nspawn, install, test the service there"
	@echo "make deb-check  build the Debian packages, lintian them, install them in the container, dkms"
	@echo "make fuzz      build the libFuzzer harnesses (clang) into build-fuzz/, run each FUZZ_SECONDS"
	@echo "make suite     build with B/SAN and run the unit and integration tests and churn-smoke only"
	@echo "make private-clone-check  the suite from a clone of HEAD under a 0700 directory (CI)"
	@echo "make clean     remove build directories"

deps:
	@scripts/install-deps

# The kernel side: built against Debian's linux-headers-amd64 unless KDIR says otherwise.
KDIR ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))
KIMAGE ?= $(lastword $(sort $(wildcard /boot/vmlinuz-*-amd64)))

kmod:
	@test -n "$(KDIR)" || { echo "make kmod: no kernel headers (apt-get install linux-headers-amd64)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

VM_TEST_OBJ := $(call obj,tests/vm/vm_sva.c tests/vm/vm_preload.c)
$(B)/tests/vm_test: $(B)/obj/tests/vm/vm_test.o $(VM_TEST_OBJ) $(LIBACCEL) $(B)/libcommon.a $(B)/tests/uadk_like
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(VM_TEST_OBJ) $(B)/libcommon.a -L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..' $(JSONC) $(ZLIB)

# A program making UADK's calls, linking nothing of ours (vm_preload.c runs it).
$(B)/tests/uadk_like: $(B)/obj/tests/vm/uadk_like.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<

$(B)/tests/systemd_client: $(B)/obj/tests/systemd/systemd_client.o $(LIBACCEL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..'

$(B)/tests/hold_client: $(B)/obj/tests/systemd/hold_client.o $(LIBACCEL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..'

# Reads a process's unit as the broker would, from inside its sandbox (tests/systemd/inside).
$(B)/tests/cgroup_probe: $(B)/obj/tests/systemd/cgroup_probe.o $(B)/libdaemon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libdaemon.a

$(B)/tests/vm_bench: $(B)/obj/tests/vm/vm_bench.o $(LIBACCEL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..'

vm-bench: all kmod $(B)/tests/vm_test $(B)/tests/vm_bench
	@test -n "$(KIMAGE)" || { echo "make vm-bench: no kernel image (apt-get install linux-image-amd64)" >&2; exit 1; }
	tests/vm/run-vm-check $(B) $(KIMAGE) bench

vm-check: all kmod $(B)/tests/vm_test
	@test -n "$(KIMAGE)" || { echo "make vm-check: no kernel image (apt-get install linux-image-amd64)" >&2; exit 1; }
	tests/vm/run-vm-check $(B) $(KIMAGE)

# Debian ships no lockdep kernel: build one once (tens of minutes, niced;
# not part of make check), cached and git-ignored.  Its build tree is the
# KDIR the modules must be built against to load in it.
LOCKDEP := .cache/lockdep-kernel
lockdep-kernel:
	scripts/build-lockdep-kernel $(LOCKDEP)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/daemon/%.o: ALL_CFLAGS += $(DAEMON_INC)

# Tests reach into the parts they test.
$(B)/obj/tests/%.o: ALL_CFLAGS += $(DAEMON_INC) -Iclient/libaccel -Iclient/preload

$(B)/gen/varlink_description.c: daemon/api/org.accelbroker.Broker.varlink scripts/embed-text
	@mkdir -p $(dir $@)
	scripts/embed-text varlink_api_description $< > $@

$(B)/gen/varlink_service_description.c: daemon/api/org.varlink.service.varlink scripts/embed-text
	@mkdir -p $(dir $@)
	scripts/embed-text varlink_service_description $< > $@

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The code both the broker and libaccel link: framing, fd passing, errors.
$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^

$(B)/libdaemon.a: $(call obj,$(DAEMON_SRC)) $(B)/obj/gen/varlink_description.o \
		$(B)/obj/gen/varlink_service_description.o
	$(AR) rcs $@ $^

$(BROKER): $(call obj,daemon/service/main.c) $(B)/libdaemon.a $(B)/libcommon.a
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBSYSTEMD) $(JSONC) $(INIH) $(ZLIB)

$(LIBACCEL_FILE): $(call obj,$(LIB_SRC)) $(B)/libcommon.a client/libaccel/libaccel.map
	$(CC) $(LDFLAGS) -shared -pthread -Wl,-soname,$(LIBACCEL_SONAME) \
		-Wl,--version-script=client/libaccel/libaccel.map -Wl,--no-undefined \
		-o $@ $(call obj,$(LIB_SRC)) $(B)/libcommon.a $(JSONC)
	ln -sf $(notdir $@) $(B)/$(LIBACCEL_SONAME)

# The links, each a target of its own: remade when missing.  The file's
# rule makes the soname's link at once too: a tree built before the files
# had versioned names holds a stale file under the soname, which make,
# with .SECONDARY, would otherwise replace only on its next run.
$(B)/$(LIBACCEL_SONAME): $(LIBACCEL_FILE)
	ln -sf $(notdir $<) $@
$(LIBACCEL): $(B)/$(LIBACCEL_SONAME)
	ln -sf $(notdir $<) $@
$(B)/$(LIBACCEL_EVENT_SONAME): $(LIBACCEL_EVENT_FILE)
	ln -sf $(notdir $<) $@
$(LIBACCEL_EVENT): $(B)/$(LIBACCEL_EVENT_SONAME)
	ln -sf $(notdir $<) $@

$(B)/accel.pc: client/libaccel/accel.pc.in Makefile
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@

# Programs built against the tree: PKG_CONFIG_PATH=$(B) pkg-config accel (pkg-config
# prefers accel-uninstalled.pc there); the rpath finds $(LIBACCEL_SONAME) without installing.
$(B)/accel-uninstalled.pc: Makefile
	@mkdir -p $(B)
	printf '%s\n' 'libdir=$(abspath $(B))' 'includedir=$(CURDIR)/include' '' 'Name: accel' \
		'Description: Client library of accel-broker (uninstalled, in $(abspath $(B)))' \
		'Version: $(VERSION)' 'Libs: -L$${libdir} -laccel -Wl,-rpath,$${libdir}' \
		'Cflags: -I$${includedir}' > $@

# libaccel-event: queues in a libevent loop, a library of its own so that
# libaccel does not depend on libevent (pkg-config accel-event).
$(LIBACCEL_EVENT_FILE): $(call obj,$(EVLIB_SRC)) $(LIBACCEL) client/libaccel-event/libaccel-event.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBACCEL_EVENT_SONAME) \
		-Wl,--version-script=client/libaccel-event/libaccel-event.map -Wl,--no-undefined \
		-o $@ $(call obj,$(EVLIB_SRC)) -L$(B) -laccel -Wl,-rpath,'$$ORIGIN' $(LIBEVENT)
	ln -sf $(notdir $@) $(B)/$(LIBACCEL_EVENT_SONAME)

$(B)/accel-event.pc: client/libaccel-event/accel-event.pc.in Makefile
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@

# The example of libaccel-event (make check runs it: tests/integration/test_event_example.c).
$(EVENT_EXAMPLE): $(B)/obj/examples/event_gzip.o $(LIBACCEL_EVENT) $(LIBACCEL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $< -L$(B) -laccel-event -laccel -Wl,-rpath,'$$ORIGIN/..' \
		$(LIBEVENT) $(ZLIB)

$(CTL): $(call obj,$(CTL_SRC)) $(LIBACCEL)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(CTL_SRC)) -L$(B) -laccel -Wl,-rpath,'$$ORIGIN' $(JSONC) $(ZLIB)

# Unchanged uacce programs: the preload library (only the calls it
# intercepts exported) and accel-run, which shares its view of the quota.
$(PRELOAD): $(call obj,$(PRELOAD_SRC)) $(LIBACCEL) $(B)/libcommon.a client/preload/preload.map
	$(CC) $(LDFLAGS) -shared -pthread -Wl,--version-script=client/preload/preload.map -Wl,--no-undefined \
		-o $@ $(call obj,$(PRELOAD_SRC)) -L$(B) -laccel -Wl,-rpath,'$$ORIGIN' $(JSONC) -ldl

$(B)/obj/client/accel-run/%.o: ALL_CFLAGS += -Iclient/preload -DACCEL_LIBDIR='"$(PRELOADDIR)"'
$(ACCEL_RUN): $(call obj,$(RUN_SRC)) $(B)/obj/client/preload/allowance.o $(LIBACCEL) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(RUN_SRC)) $(B)/obj/client/preload/allowance.o -L$(B) -laccel \
		-Wl,-rpath,'$$ORIGIN' $(JSONC)

$(B)/tests/test_fdtable: $(B)/obj/client/preload/fdtable.o
$(B)/tests/test_event_example: $(EVENT_EXAMPLE)
# test_preload runs preload_probe, a program that links nothing of ours, under accel-run.
$(B)/tests/preload_probe: $(B)/obj/tests/integration/preload_probe.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<
$(B)/tests/test_preload: $(B)/tests/preload_probe $(PRELOAD) $(ACCEL_RUN)
# test_resolver's slow user database, preloaded into the broker: no sanitizer (the broker's runtime serves it).
$(B)/tests/nss_block.so: tests/integration/nss_block.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -fPIC -shared -D_GNU_SOURCE -o $@ $< -ldl
$(B)/tests/test_resolver: $(B)/tests/nss_block.so

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(B)/libdaemon.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(CMOCKA) $(LIBSYSTEMD) $(JSONC) $(INIH) $(ZLIB)

$(INTEG_TESTS): $(B)/tests/%: $(B)/obj/tests/integration/%.o $(B)/obj/tests/integration/harness.o \
		$(LIBACCEL) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $< $(B)/obj/tests/integration/harness.o $(B)/libcommon.a \
		-L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..' $(CMOCKA) $(JSONC) $(LIBSYSTEMD) $(ZLIB)

$(BENCH): $(B)/obj/bench/bench.o $(B)/obj/bench/event_loop.o $(LIBACCEL) $(B)/libcommon.a $(EVENT_EXAMPLE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $< $(B)/obj/bench/event_loop.o $(B)/libcommon.a -L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..' $(JSONC) $(ZLIB) $(LIBSYSTEMD)

# The churn and load bench: its clients check crc32c results with the engine's own code.
$(CHURN_OBJ): ALL_CFLAGS += $(DAEMON_INC)
$(CHURN): $(CHURN_OBJ) $(B)/obj/daemon/sim/crc32c.o $(LIBACCEL) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $(CHURN_OBJ) $(B)/obj/daemon/sim/crc32c.o $(B)/libcommon.a \
		-L$(B) -laccel -Wl,-rpath,'$$ORIGIN/..' $(LIBEVENT) $(JSONC) $(ZLIB)

# What make install writes, besides the configuration file (kept on uninstall).
INSTALLED := $(SBINDIR)/accel-broker $(BINDIR)/accelctl $(BINDIR)/accel-run $(PRELOADDIR)/libaccel-preload.so \
	$(LIBDIR)/$(notdir $(LIBACCEL_FILE)) $(LIBDIR)/$(LIBACCEL_SONAME) $(LIBDIR)/libaccel.so \
	$(LIBDIR)/$(notdir $(LIBACCEL_EVENT_FILE)) $(LIBDIR)/$(LIBACCEL_EVENT_SONAME) $(LIBDIR)/libaccel-event.so \
	$(INCLUDEDIR)/accel/accel.h $(INCLUDEDIR)/accel/sim.h $(INCLUDEDIR)/accel/uacce.h $(PKGCONFIGDIR)/accel.pc \
	$(INCLUDEDIR)/accel/accel-event.h $(PKGCONFIGDIR)/accel-event.pc \
	$(SYSTEMDUNITDIR)/accel-broker.service $(SYSTEMDUNITDIR)/accel-broker.socket \
	$(SYSUSERSDIR)/accel-broker.conf $(TMPFILESDIR)/accel-broker.conf \
	$(UDEVRULESDIR)/70-accel-broker.rules \
	$(DBUSDIR)/system.d/org.accelbroker.Broker1.conf \
	$(DBUSDIR)/system-services/org.accelbroker.Broker1.service \
	$(MANDIR)/man1/accelctl.1 $(MANDIR)/man1/accel-run.1 $(MANDIR)/man3/libaccel.3 \
	$(MANDIR)/man5/accel-broker.conf.5 $(MANDIR)/man8/accel-broker.8 \
	$(DOCDIR)/protocol.md $(DOCDIR)/dbus.md $(DOCDIR)/design.md $(DOCDIR)/kernel.md

install: all
	install -d $(addprefix $(DESTDIR),$(sort $(dir $(INSTALLED))) $(SYSCONFDIR))
	install -m 0755 $(BROKER) $(DESTDIR)$(SBINDIR)/accel-broker
	install -m 0755 $(CTL) $(DESTDIR)$(BINDIR)/accelctl
	install -m 0755 $(ACCEL_RUN) $(DESTDIR)$(BINDIR)/accel-run
	install -m 0755 $(PRELOAD) $(DESTDIR)$(PRELOADDIR)/libaccel-preload.so
	install -m 0755 $(LIBACCEL_FILE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIBACCEL_FILE)) $(DESTDIR)$(LIBDIR)/$(LIBACCEL_SONAME)
	ln -sf $(LIBACCEL_SONAME) $(DESTDIR)$(LIBDIR)/libaccel.so
	install -m 0644 include/accel/accel.h include/accel/sim.h include/accel/uacce.h $(DESTDIR)$(INCLUDEDIR)/accel/
	install -m 0644 $(B)/accel.pc $(DESTDIR)$(PKGCONFIGDIR)/accel.pc
	install -m 0755 $(LIBACCEL_EVENT_FILE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIBACCEL_EVENT_FILE)) $(DESTDIR)$(LIBDIR)/$(LIBACCEL_EVENT_SONAME)
	ln -sf $(LIBACCEL_EVENT_SONAME) $(DESTDIR)$(LIBDIR)/libaccel-event.so
	install -m 0644 include/accel/accel-event.h $(DESTDIR)$(INCLUDEDIR)/accel/
	install -m 0644 $(B)/accel-event.pc $(DESTDIR)$(PKGCONFIGDIR)/accel-event.pc
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/accel-broker.service.in \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/accel-broker.service
	install -m 0644 systemd/accel-broker.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 etc/sysusers.d/accel-broker.conf $(DESTDIR)$(SYSUSERSDIR)/accel-broker.conf
	install -m 0644 etc/tmpfiles.d/accel-broker.conf $(DESTDIR)$(TMPFILESDIR)/accel-broker.conf
	install -m 0644 etc/udev/70-accel-broker.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 0644 etc/dbus-1/org.accelbroker.Broker1.conf $(DESTDIR)$(DBUSDIR)/system.d/
	install -m 0644 systemd/org.accelbroker.Broker1.service $(DESTDIR)$(DBUSDIR)/system-services/
	install -m 0644 docs/man/accelctl.1 docs/man/accel-run.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/libaccel.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 docs/man/accel-broker.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/accel-broker.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/protocol.md docs/dbus.md docs/design.md docs/kernel.md $(DESTDIR)$(DOCDIR)/
	test -e $(DESTDIR)$(SYSCONFDIR)/accel-broker.conf || \
		install -m 0644 etc/accel-broker.conf $(DESTDIR)$(SYSCONFDIR)/accel-broker.conf
	@# On the running system: the user, the run-time directory, udev and systemd told.
	$(if $(DESTDIR),,-ldconfig)
	$(if $(DESTDIR),,-systemd-sysusers $(SYSUSERSDIR)/accel-broker.conf)
	$(if $(DESTDIR),,-systemd-tmpfiles --create $(TMPFILESDIR)/accel-broker.conf)
	$(if $(DESTDIR),,-udevadm control --reload)
	$(if $(DESTDIR),,-systemctl daemon-reload)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/accel $(DESTDIR)$(DOCDIR)
	@echo "make uninstall: kept $(DESTDIR)$(SYSCONFDIR)/accel-broker.conf and the accel-broker user"
	$(if $(DESTDIR),,-systemctl daemon-reload)

# The service under a real systemd: a debootstrap root booted with systemd-nspawn.
systemd-check: all $(B)/tests/systemd_client $(B)/tests/hold_client $(B)/tests/cgroup_probe
	tests/systemd/run-systemd-check $(B)

# The Debian packages (debian/): built, lintian, installed and purged in the
# container, the DKMS modules built and loaded in the VM (tests/deb/run-deb-check).
deb-check: all $(B)/tests/vm_test
	@test -n "$(KDIR)" -a -n "$(KIMAGE)" || { echo "make deb-check: no kernel headers or image" >&2; exit 1; }
	tests/deb/run-deb-check $(B) $(KDIR) $(KIMAGE)

# The README's two commands.
demo: deps
	$(MAKE) all
	scripts/demo $(B)

# The plain build too: -O2 warns where the sanitizer build's -O1 does not.
check: deps
	$(MAKE) all
	$(MAKE) B=build-san SAN=1 test

test: all $(UNIT_TESTS) $(INTEG_TESTS) $(CHURN)
	$(MAKE) B=$(FUZZ_B) FUZZ=1 fuzz-build
	B=$(B) SAN=$(SAN) FUZZ_B=$(FUZZ_B) tests/run-tests $(UNIT_TESTS) $(INTEG_TESTS) \
		tests/docs-check tests/package-check tests/style-check tests/readme-examples tests/fuzz/fuzz-check tests/churn-smoke tests/vm/vm-check tests/systemd/systemd-check \
		tests/deb/deb-check

# The tests that need neither clang, qemu nor a container: unit, integration, churn-smoke.
suite: all $(UNIT_TESTS) $(INTEG_TESTS) $(CHURN)
	B=$(B) SAN=$(SAN) tests/run-tests $(UNIT_TESTS) $(INTEG_TESTS) tests/docs-check tests/package-check tests/style-check tests/readme-examples tests/churn-smoke

# The suite from a clone of HEAD under a 0700 directory, clean environment (.ci/run).
private-clone-check:
	tests/private-clone-check

# libFuzzer harnesses: one file per harness, tests/fuzz/fuzz_NAME.c, with its
# seed corpus in tests/fuzz/corpus/NAME/ (and optionally tests/fuzz/NAME.dict).
# Built by clang in their own directory (FUZZ_B); make check runs each briefly.
FUZZ_B ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))

$(B)/obj/tests/fuzz/%.o: ALL_CFLAGS += -Itests/fuzz

$(B)/fuzz/fuzz_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/libdaemon.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBSYSTEMD) $(JSONC) $(INIH) $(ZLIB)

fuzz-build: $(FUZZERS)

fuzz: deps
	$(MAKE) B=$(FUZZ_B) FUZZ=1 fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/fuzz-run $(FUZZ_B)

bench: deps
	$(MAKE) all $(BENCH) $(CHURN)
	bench/run-bench $(B)

clean:
	rm -rf build build-san build-fuzz
	$(if $(KDIR),-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
.SECONDARY:
