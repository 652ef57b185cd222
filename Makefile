# ffrelax - plain make. `make help` lists the targets and switches.
#   BLAS=1 (default) links OpenBLAS through CBLAS; BLAS=0 uses the naive gemm.
#   SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
#   DEBUG=1 builds with -O0 -g.
#   MPI=1 builds the CLI with mpicc and -DFFR_MPI into build-mpi/ (doc/scaling.md);
#   the library never needs MPI.
BLAS ?= 1
MPI ?= 0
MPICC ?= mpicc
SAN ?= 0
DEBUG ?= 0
CC ?= cc
BUILD ?= build
ifeq ($(SAN),1)
  BUILD := build-san
endif
ifeq ($(MPI),1)
  BUILD := build-mpi
endif

CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Iinclude -Isrc -MMD -MP
ifeq ($(DEBUG),1)
  CFLAGS_OPT := -O0 -g
else
  CFLAGS_OPT := -O2 -g -march=x86-64-v2 -mtune=native
endif
ifeq ($(SAN),1)
  CFLAGS_OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDSAN := -fsanitize=address,undefined
endif
CAIRO_CFLAGS := $(shell pkg-config --cflags cairo 2>/dev/null)
CAIRO_LIBS := $(shell pkg-config --libs cairo 2>/dev/null || echo -lcairo)
ifeq ($(BLAS),1)
  BLAS_CFLAGS := -DFFR_USE_BLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread
  BLAS_LIBS := -lopenblas
endif
CFLAGS += $(CFLAGS_BASE) $(CFLAGS_OPT) $(BLAS_CFLAGS)
# the library needs BLAS (optional), zlib (gzip IDX) and libm; cairo is the CLI's (plots)
LDLIBS := $(BLAS_LIBS) -lz -lm -lpthread

LIB_SRC := $(wildcard src/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# the end-to-end scripts only the full tier (make test) runs; the rest of
# tests/cli_*.sh is quick and runs in make check too
SLOW_CLI := cli_figure1 cli_resume cli_mpi
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all check test check-asan test-asan bench clean help
all: $(BUILD)/ffrelax ffrelax

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libffrelax.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the CLI (and the plot test) compile and link with cairo
$(CLI_OBJ) $(BUILD)/tests/test_plot.o: CFLAGS += $(CAIRO_CFLAGS)

# MPI=1: the CLI (cli/mpi.c) compiles and links with mpicc; the library as always
CLI_CC := $(CC)
ifeq ($(MPI),1)
  CLI_CC := $(MPICC)
$(CLI_OBJ): CFLAGS += -DFFR_MPI
$(CLI_OBJ): $(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	@echo "  MPICC $<"
	@$(MPICC) $(CFLAGS) -c $< -o $@
endif

$(BUILD)/ffrelax: $(CLI_OBJ) $(BUILD)/libffrelax.a
	$(CLI_CC) $(LDSAN) -o $@ $(CLI_OBJ) $(BUILD)/libffrelax.a $(CAIRO_LIBS) $(LDLIBS)

ffrelax: $(BUILD)/ffrelax
	@if [ "$(BUILD)" = build ]; then ln -sf build/ffrelax ffrelax; fi

# keep the test objects (make would delete them as intermediates and rebuild them every run)
.SECONDARY: $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o) $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%.o)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $< $(BUILD)/libffrelax.a $(LDLIBS)

$(BUILD)/tests/test_plot: $(BUILD)/tests/test_plot.o $(BUILD)/cli/plot.o $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $^ $(CAIRO_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $< $(BUILD)/libffrelax.a $(LDLIBS)

# Two tiers (tests/run.sh): check = every tests/test_*.c program and the quick
# CLI scripts (under a minute on 2 cores); test = check plus the end-to-end
# scripts $(SLOW_CLI) (figure1 --quick, kill-and-resume). The README's test
# command is make test.
check: $(TEST_BIN) $(BUILD)/ffrelax
	@FFRELAX=$(BUILD)/ffrelax SKIP_CLI="$(SLOW_CLI)" sh tests/run.sh $(TEST_BIN)

# make test also builds the MPI CLI (build-mpi/ffrelax) when mpicc exists: tests/cli_mpi.sh
# compares it over 2 ranks with this build, bit for bit (skipped with a message without mpirun)
HAVE_MPICC := $(shell command -v $(MPICC) 2>/dev/null)
test: $(TEST_BIN) $(BUILD)/ffrelax
	@if [ -n "$(HAVE_MPICC)" ] && [ "$(MPI)" != 1 ] && [ "$(SAN)" != 1 ]; then \
	  $(MAKE) --no-print-directory MPI=1 BLAS=$(BLAS) build-mpi/ffrelax >/dev/null || exit 1; fi
	@FFRELAX=$(BUILD)/ffrelax FFRELAX_MPI=$(if $(HAVE_MPICC),build-mpi/ffrelax,) sh tests/run.sh $(TEST_BIN)
	@$(MAKE) --no-print-directory pytest

check-asan:
	@$(MAKE) --no-print-directory SAN=1 check

test-asan: check-asan

bench: $(BENCH_BIN)

clean:
	rm -rf build build-san build-mpi ffrelax

help: install-help
	@echo "targets: all (default): build/ffrelax and build/libffrelax.a"
	@echo "         check: unit and property tests + quick CLI checks (under a minute)"
	@echo "         test: check + the end-to-end scripts ($(SLOW_CLI)) + the Python tests (make pytest); the README's test command"
	@echo "         check-asan (= test-asan): the check tier under ASan+UBSan in build-san/"
	@echo "         bench, clean, help, valgrind,"
	@echo "         fuzz (FUZZ_SECONDS=60 per target, FUZZ_TARGETS=...), fuzz-build"
	@echo "switches: BLAS=1|0 (OpenBLAS or naive gemm), SAN=1 (ASan+UBSan), DEBUG=1, CC=cc,"
	@echo "          MPI=1 (the CLI with mpicc into build-mpi/: mpirun -np N build-mpi/ffrelax train|relax ...)"

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.d) $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%.d)
include mk/install.mk

# ---- fuzzing (doc/reliability.md): libFuzzer targets fuzz/fuzz_*.c, built with clang,
# ASan and UBSan into build/fuzz/ (naive gemm, no BLAS), each run for FUZZ_SECONDS
# from the seed corpus fuzz/corpus/NAME (new inputs go to build/fuzz/corpus/NAME,
# crashes to build/fuzz/artifacts/). FUZZ_TARGETS picks a subset.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_TARGETS ?= model idx npy mnist_json cli ckpt manifest
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := $(CFLAGS_BASE) $(CAIRO_CFLAGS) -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_CLI_OBJ := $(CLI_SRC:%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter cli/main.c,$<),-Dmain=ffrelax_cli_main) -c $< -o $@

$(FUZZ_DIR)/libffrelax.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/fuzz/fuzz_%.o $(FUZZ_DIR)/libffrelax.a $(FUZZ_CLI_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< \
	  $(if $(filter fuzz_cli,$(notdir $@)),$(FUZZ_CLI_OBJ)) $(FUZZ_DIR)/libffrelax.a $(CAIRO_LIBS) -lz -lm -lpthread

# keep the objects (make would delete them as intermediates between two fuzz builds)
.SECONDARY: $(FUZZ_CLI_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz/fuzz_%.o)
# header dependencies of the fuzz objects (a changed struct must rebuild every user)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_CLI_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz/fuzz_%.d)
.PHONY: fuzz fuzz-build valgrind
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
	    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	    $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t 2>&1 | grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done|==|SUMMARY|artifact_prefix|Test unit)' ; \
	  [ $$(ls $(FUZZ_DIR)/artifacts | grep -c "^$$t-") -eq 0 ] || { echo "fuzz_$$t: crash inputs in $(FUZZ_DIR)/artifacts"; exit 1; }; \
	done

# The test programs and the quick CLI checks under valgrind (memcheck, leaks), on the
# naive-gemm build in build-vg/. Each binary runs through a wrapper script in
# build-vg/vg/. The kill-and-resume and figure1 scripts are left out (timing-bound, slow).
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect -q \
  --suppressions=$(CURDIR)/tests/valgrind.supp
VALGRIND_CLI ?= cli_core cli_badinput cli_fullfile
valgrind:
	@$(MAKE) --no-print-directory BLAS=0 BUILD=build-vg $(patsubst build/%,build-vg/%,$(TEST_BIN)) build-vg/ffrelax
	@mkdir -p build-vg/vg; fails=0; \
	for b in $(patsubst build/%,build-vg/%,$(TEST_BIN)) build-vg/ffrelax; do \
	  printf '#!/bin/sh\nexec $(VALGRIND) %s "$$@"\n' "$$(pwd)/$$b" > build-vg/vg/$$(basename $$b); chmod +x build-vg/vg/$$(basename $$b); \
	done; \
	for t in $(TEST_BIN); do build-vg/vg/$$(basename $$t) || { echo "FAILED under valgrind: $$t"; fails=$$((fails+1)); }; done; \
	for s in $(VALGRIND_CLI); do FFRELAX=build-vg/vg/ffrelax sh tests/$$s.sh && echo "$$s.sh ok" || { echo "FAILED under valgrind: $$s"; fails=$$((fails+1)); }; done; \
	echo "valgrind: $$fails failed"; [ $$fails -eq 0 ]
