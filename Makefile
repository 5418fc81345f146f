# cloud_fdw: PGXS build, plus the project's own targets (test, demo).

MODULE_big = cloud_fdw
OBJS = \
	src/analyze.o \
	src/auth.o \
	src/budget.o \
	src/cache.o \
	src/client.o \
	src/cloud_fdw.o \
	src/connection.o \
	src/convert.o \
	src/error.o \
	src/http.o \
	src/huawei_sign.o \
	src/import.o \
	src/ledger.o \
	src/json.o \
	src/modify.o \
	src/option.o \
	src/plan.o \
	src/registry.o \
	src/request.o \
	src/scan.o \
	src/tape.o \
	src/url.o

EXTENSION = cloud_fdw
# A new version is an upgrade script from the last one: CREATE EXTENSION
# installs 1.0 and applies the upgrades, so both paths run the same SQL.
EXTVERSION = 1.1
DATA = cloud_fdw--1.0.sql cloud_fdw--1.0--1.1.sql
PGFILEDESC = "cloud_fdw - foreign-data wrapper for cloud REST APIs"

REGRESS = options select pushdown update errors faults huawei_sign huawei huawei_auth \
	validation conversion readme planning writes iam_replay roles registry resources scale \
	cache
REGRESS_OPTS = --inputdir=. --load-extension=cloud_fdw --no-locale

PKG_CONFIG ?= pkg-config
PG_CPPFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl json-c) \
	-DCLOUD_FDW_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -std=gnu11 -Wall -Werror
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs libcurl json-c)

EXTRA_CLEAN = src/.built-for

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS knows nothing of headers: rebuild everything when one changes.
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)

# Nor does it know which PostgreSQL the objects were built for: building for
# another one (PG_CONFIG=...) must not link the last one's objects.  The
# stamp changes only when the installation does, and everything depends on it.
BUILT_FOR := $(shell $(PG_CONFIG) --version) $(shell $(PG_CONFIG) --bindir)
$(OBJS) $(OBJS:.o=.bc): src/.built-for
src/.built-for: FORCE
	@[ "$$(cat $@ 2>/dev/null)" = "$(BUILT_FOR)" ] || echo "$(BUILT_FOR)" > $@
FORCE:

.PHONY: test demo bench fuzz check-valgrind FORCE

# The whole suite: installs missing packages, builds, runs pg_regress and the
# scripts under test/ against a throwaway cluster and the mock cloud.  With
# PG_CONFIG=..., against that installation instead of the system's.
test:
	bash test/deps.sh
	PG_CONFIG=$(PG_CONFIG) python3 test/run_tests.py

# A tour of the main job against the mock cloud.
demo:
	bash test/deps.sh
	PG_CONFIG=$(PG_CONFIG) python3 test/demo.py

# Figures against curl alone and PL/Python, written to bench/RESULTS.md.
bench:
	bash test/deps.sh
	PG_CONFIG=$(PG_CONFIG) python3 test/bench.py

# libFuzzer on the JSON layer for FUZZ_SECONDS (default 300); inputs that
# fail are kept in test/fuzz/out.
FUZZ_SECONDS ?= 300
fuzz:
	bash test/deps.sh
	cd test && PG_CONFIG=$(PG_CONFIG) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=fuzz/out python3 t_fuzz.py

# The pg_regress suites and the fault matrix with the server under valgrind.
# (AddressSanitizer cannot be preloaded into Debian's postgres: it hangs in
# bindtextdomain at startup.)
check-valgrind:
	bash test/deps.sh
	PG_CONFIG=$(PG_CONFIG) python3 test/run_tests.py --valgrind --only 'regress|t_faults|t_secrets'
