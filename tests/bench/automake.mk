# Benchmarks print figures; nothing here asserts a time.
#   make bench            pipeline compute and incremental update
#   make bench-install    installing into a real ovs-vswitchd (root)
#   make bench-migration  outage of live migrations, three modes + OVN (root)
noinst_PROGRAMS += tests/bench/bench-pipeline
tests_bench_bench_pipeline_SOURCES = tests/bench/bench-pipeline.c
tests_bench_bench_pipeline_LDADD = $(LIVEBIND_LIBS)
EXTRA_DIST += tests/bench/bench-install.sh

bench: tests/bench/bench-pipeline
	tests/bench/bench-pipeline
bench-install: all tests/bench/bench-pipeline
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/bench/bench-install.sh
.PHONY: bench bench-install
EXTRA_DIST += tests/bench/bench-cni.sh
bench-cni: all
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/bench/bench-cni.sh
.PHONY: bench-cni
EXTRA_DIST += tests/bench/bench-migration.sh tests/bench/udp-probe.py
bench-migration: all
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/bench/bench-migration.sh
.PHONY: bench-migration
EXTRA_DIST += tests/bench/README.md
