# mk/install.mk - the shared library, `make install` / `make uninstall`, the
# pkg-config file, the exported-symbol check and the Python tests. Included
# by the Makefile (after its CFLAGS/LDLIBS/LIB_SRC).
#
#   make shared                  build/libffrelax.so.MAJOR.MINOR.PATCH (+ .so.MAJOR, .so links)
#   make install PREFIX=/usr/local DESTDIR=   lib, headers, ffrelax.pc, the CLI, the man page
#   make uninstall PREFIX=... DESTDIR=...
#   make check-symbols           nm -D shows exactly the ffr_ functions of include/ffrelax.h
#   make pytest                  the Python package's tests (python/tests) on build/libffrelax.so
#   make ci-install              scripts/ci-install.sh: install into a temporary prefix, build
#                                and run examples/relax_example.c against it (shared and static)
#
# The shared library is made from a second object set (build/pic/) compiled
# with -fPIC -fvisibility=hidden: only what include/ffrelax.h declares between
# its `#pragma GCC visibility push(default)` / `pop` is exported.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PYTHON ?= /usr/bin/python3
INSTALL ?= install

FFR_HDR_VER = $(shell sed -n 's/^\#define FFR_VERSION_$(1) \([0-9]*\).*/\1/p' include/ffrelax.h)
FFR_MAJOR := $(call FFR_HDR_VER,MAJOR)
FFR_MINOR := $(call FFR_HDR_VER,MINOR)
FFR_PATCH := $(call FFR_HDR_VER,PATCH)
FFR_VER := $(FFR_MAJOR).$(FFR_MINOR).$(FFR_PATCH)
SONAME := libffrelax.so.$(FFR_MAJOR)
SHLIB := $(BUILD)/libffrelax.so.$(FFR_VER)

PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

# What a static link needs besides libffrelax.a, from the build switches and
# the sources the library holds now: OpenBLAS when BLAS=1, zlib for the IDX
# reader (and model files while they take crc32 from it), cairo while
# src/plot.c is in the library, libm and pthreads always.
FFR_PC_REQUIRES := $(if $(filter src/plot.c,$(LIB_SRC)),cairo)
FFR_PC_LIBS := $(BLAS_LIBS) $(if $(shell grep -l 'zlib.h' $(LIB_SRC)),-lz) -lm -lpthread
# The shared library's own links: the same, cairo by its pkg-config libs.
SHLIB_LIBS := $(BLAS_LIBS) $(if $(FFR_PC_REQUIRES),$(CAIRO_LIBS)) $(filter-out $(BLAS_LIBS),$(FFR_PC_LIBS))

.PHONY: shared install uninstall check-symbols pytest ci-install install-help

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC (pic) $<"
	@$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(SHLIB): $(PIC_OBJ)
	$(CC) $(LDSAN) -shared -Wl,-soname,$(SONAME) $(if $(filter 1,$(SAN)),,-Wl,--no-undefined) -o $@ $(PIC_OBJ) $(SHLIB_LIBS)

$(BUILD)/$(SONAME): $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $@

$(BUILD)/libffrelax.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

shared: $(BUILD)/libffrelax.so

$(BUILD)/ffrelax.pc: ffrelax.pc.in include/ffrelax.h mk/install.mk
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(FFR_VER)|g' -e 's|@REQUIRES_PRIVATE@|$(FFR_PC_REQUIRES)|g' \
	    -e 's|@LIBS_PRIVATE@|$(strip $(FFR_PC_LIBS))|g' $< > $@

# The .pc file holds PREFIX: rebuilt on every install so that it matches.
install: $(BUILD)/libffrelax.so $(BUILD)/libffrelax.a $(BUILD)/ffrelax
	@rm -f $(BUILD)/ffrelax.pc
	@$(MAKE) --no-print-directory $(BUILD)/ffrelax.pc
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libffrelax.so
	$(INSTALL) -m 644 $(BUILD)/libffrelax.a $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 include/ffrelax.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(BUILD)/ffrelax.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(INSTALL) -m 755 $(BUILD)/ffrelax $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 doc/ffrelax.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libffrelax.so $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/libffrelax.so.$(FFR_VER) $(DESTDIR)$(LIBDIR)/libffrelax.a \
	  $(DESTDIR)$(INCLUDEDIR)/ffrelax.h $(DESTDIR)$(LIBDIR)/pkgconfig/ffrelax.pc \
	  $(DESTDIR)$(BINDIR)/ffrelax $(DESTDIR)$(MANDIR)/man1/ffrelax.1

check-symbols: $(SHLIB)
	@sh scripts/check-symbols.sh $(SHLIB) include/ffrelax.h

pytest: $(BUILD)/libffrelax.so $(BUILD)/ffrelax
	@FFRELAX_LIB=$(CURDIR)/$(SHLIB) FFRELAX=$(CURDIR)/$(BUILD)/ffrelax PYTHONPATH=$(CURDIR)/python \
	  $(PYTHON) -m pytest -q -c python/pytest.ini --rootdir=python --confcutdir=python -p no:cacheprovider python/tests

ci-install:
	@sh scripts/ci-install.sh

install-help:
	@echo "install targets: shared, install, uninstall (PREFIX=$(PREFIX) DESTDIR=), check-symbols,"
	@echo "                 pytest (PYTHON=$(PYTHON)), ci-install"

-include $(PIC_OBJ:.o=.d)
