# Benchmarks print figures; nothing here asserts a time.  See
# tests/bench/README.md.
#   make bench            pipeline and NetworkPolicy compute, incremental
#                         updates, incremental derivation among 10,000 pods
#   make bench-install    installing into a real ovs-vswitchd: 10,000 ports,
#                         then 1,000 policies' flows over 10,000 pods (root)
#   make bench-k8s        the control plane: list/watch, change -> flows
#   make bench-cni        CNI ADD latency (root)
#   make bench-migration  outage of live migrations, three modes + OVN (root);
#                         BENCH_VM=qemu: a real QEMU guest, QEMU migrating;
#                         BENCH_VM=scale: 100 VMs at once, 10,000 ports
#   make bench-provider   a provider network seen from an external host:
#                         UDP outage beside OVN's, bulk transfers at full
#                         MTU, path MTU (root)
#   make bench-handover   conntrack handover of a migrating VM's 1,000 and
#                         10,000 connections (root)
#   make bench-switch-ports  the bed's userspace switch: what each idle pod
#                         port costs every wakeup of its main thread (root)
noinst_PROGRAMS += tests/bench/bench-pipeline
tests_bench_bench_pipeline_SOURCES = tests/bench/bench-pipeline.c
tests_bench_bench_pipeline_LDADD = $(LIVEBIND_LIBS)
noinst_PROGRAMS += tests/bench/bench-policy
tests_bench_bench_policy_SOURCES = tests/bench/bench-policy.c
tests_bench_bench_policy_LDADD = $(LIVEBIND_LIBS)
noinst_PROGRAMS += tests/bench/bench-derive
tests_bench_bench_derive_SOURCES = tests/bench/bench-derive.c
tests_bench_bench_derive_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_bench_bench_derive_LDADD = $(LIVEBIND_LIBS)

LB_BENCH_TOOLS = \
	tests/bench/bench-cni.sh \
	tests/bench/bench-install.sh \
	tests/bench/bench-k8s.sh \
	tests/bench/bench-migration.sh \
	tests/bench/bench-migration-qemu.sh \
	tests/bench/bench-migration-scale.sh \
	tests/bench/bench-provider.sh \
	tests/bench/bench-handover.sh \
	tests/bench/bench-switch-ports.sh
EXTRA_DIST += $(LB_BENCH_TOOLS) tests/bench/udp-probe.py \
	tests/bench/load-ports.py tests/bench/ovn-load-ports.py \
	tests/bench/sched-window.py \
	tests/bench/README.md tests/bench/ovn.sh

bench: tests/bench/bench-pipeline tests/bench/bench-policy \
		tests/bench/bench-derive
	tests/bench/bench-pipeline
	tests/bench/bench-policy
	tests/bench/bench-derive
bench-install bench-k8s bench-cni bench-migration bench-provider \
		bench-handover bench-switch-ports: all $(noinst_PROGRAMS)
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/bench/$@.sh
.PHONY: bench bench-install bench-k8s bench-cni bench-migration \
	bench-provider bench-handover bench-switch-ports
