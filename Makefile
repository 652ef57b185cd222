# ffrelax - plain make. `make help` lists the targets and switches.
#   BLAS=1 (default) links OpenBLAS through CBLAS; BLAS=0 uses the naive gemm.
#   SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
#   DEBUG=1 builds with -O0 -g.
BLAS ?= 1
SAN ?= 0
DEBUG ?= 0
CC ?= cc
BUILD ?= build
ifeq ($(SAN),1)
  BUILD := build-san
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
CFLAGS += $(CFLAGS_BASE) $(CFLAGS_OPT) $(BLAS_CFLAGS) $(CAIRO_CFLAGS)
LDLIBS := $(BLAS_LIBS) $(CAIRO_LIBS) -lz -lm -lpthread

LIB_SRC := $(wildcard src/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-asan bench clean help
all: $(BUILD)/ffrelax ffrelax

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libffrelax.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/ffrelax: $(CLI_OBJ) $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(BUILD)/libffrelax.a $(LDLIBS)

ffrelax: $(BUILD)/ffrelax
	@if [ "$(BUILD)" = build ]; then ln -sf build/ffrelax ffrelax; fi

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $< $(BUILD)/libffrelax.a $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libffrelax.a
	$(CC) $(LDSAN) -o $@ $< $(BUILD)/libffrelax.a $(LDLIBS)

# The test command of the README: every tests/test_*.c program, then the CLI checks.
test: $(TEST_BIN) $(BUILD)/ffrelax
	@FFRELAX=$(BUILD)/ffrelax sh tests/run.sh $(TEST_BIN)

test-asan:
	@$(MAKE) --no-print-directory SAN=1 test

bench: $(BENCH_BIN)

clean:
	rm -rf build build-san ffrelax

help:
	@echo "targets: all (default), test, test-asan, bench, clean, help"
	@echo "switches: BLAS=1|0 (OpenBLAS or naive gemm), SAN=1 (ASan+UBSan), DEBUG=1, CC=cc"

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.d) $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%.d)
