SYSTEM_TESTS += tests/system/test-pod-plumb.sh
noinst_PROGRAMS += tests/lb-plumb-tool
tests_lb_plumb_tool_SOURCES = tests/lb-plumb-tool.c
tests_lb_plumb_tool_LDADD = $(LIVEBIND_LIBS)
SYSTEM_TESTS += tests/system/test-pipeline.sh
EXTRA_DIST += tests/system/bed.sh tests/system/agent.sh tests/system/impair.py
SYSTEM_TESTS += tests/system/test-bed.sh
# The real Kubernetes control plane (built by utilities/build-k8s.sh) that
# the tests below run against, and the bed's fault-injecting proxy.
SYSTEM_TESTS += tests/system/test-control-plane.sh
EXTRA_DIST += tests/system/control-plane.sh tests/system/ns-forward.py \
	tests/fault-proxy/go.mod tests/fault-proxy/main.go \
	tests/k8s-build/go.mod tests/k8s-build/go.sum \
	tests/k8s-build/cni/go.mod tests/k8s-build/cni/go.sum \
	tests/k8s-build/cni/cni-runtime/main.go
# The CNI plugin against a stub agent: needs no root, so plain `make check`
# runs it.
check_PROGRAMS += tests/system/cni-test-server
tests_system_cni_test_server_SOURCES = tests/system/cni-test-server.c
tests_system_cni_test_server_LDADD = $(LIVEBIND_LIBS)
TESTS += tests/system/test-cni-plugin.sh
EXTRA_DIST += tests/system/test-cni-plugin.sh
SYSTEM_TESTS += tests/system/test-k8s-agent.sh
EXTRA_DIST += tests/system/k8s.sh
SYSTEM_TESTS += tests/system/test-cni.sh
SYSTEM_TESTS += tests/system/test-k8s-client.sh
noinst_PROGRAMS += tests/k8s-watch-tool
tests_k8s_watch_tool_SOURCES = tests/k8s-watch-tool.c
tests_k8s_watch_tool_LDADD = $(LIVEBIND_LIBS)
SYSTEM_TESTS += tests/system/test-migration.sh
SYSTEM_TESTS += tests/system/test-policy-migration.sh
SYSTEM_TESTS += tests/system/test-policy-idle-handover.sh
EXTRA_DIST += tests/system/policy-probe.py tests/system/policy.sh
EXTRA_DIST += tests/system/migration.sh tests/system/canary.py tests/system/announce.py \
	tests/system/resume-all.py
SYSTEM_TESTS += tests/system/test-migration-many.sh
EXTRA_DIST += tests/system/cluster.sh
EXTRA_DIST += tests/system/README.md
# A real QEMU VM live-migrated by QEMU (the guest: utilities/build-guest.sh,
# tests/guest).
SYSTEM_TESTS += tests/system/test-qemu-migration.sh
EXTRA_DIST += tests/system/qemu.sh tests/system/qmp.py \
	tests/system/tapcap.py tests/system/echo-canary.py \
	tests/guest/init tests/guest/echo-server.c
SYSTEM_TESTS += tests/system/test-announce-flood.sh
EXTRA_DIST += tests/system/flood.py
SYSTEM_TESTS += tests/system/test-ipv6.sh
EXTRA_DIST += tests/system/nd.py
SYSTEM_TESTS += tests/system/test-migration-ipv6.sh
SYSTEM_TESTS += tests/system/test-migration-ipv6-only.sh
# Router solicitations flooded: metered in the switch.
SYSTEM_TESTS += tests/system/test-rs-flood.sh
# Events on the VMI and the agents' /metrics.
SYSTEM_TESTS += tests/system/test-observability.sh
# A provider network (VLAN on a physical switch) through live migration.
SYSTEM_TESTS += tests/system/test-provider-migration.sh
EXTRA_DIST += tests/system/physnet.sh tests/system/physnet-watch.py \
	tests/system/bulk.py
EXTRA_DIST += tests/system/vms.sh
# A VM with several NICs (pod network, VLAN 100, VLAN 200) selected through
# NetworkAttachmentDefinitions and Multus's delegation, through migrations.
SYSTEM_TESTS += tests/system/test-multinic-migration.sh
EXTRA_DIST += tests/system/multus.sh

# The soak: 200 migrations of several VMs with canaries, the agents' RSS
# and descriptors printed at the start and the end; then the agents
# SIGKILLed 50 times during migrations (soak-kills).  Long: not part of
# check-system.  LB_SOAK_MIGRATIONS and LB_SOAK_VMS change its size.
EXTRA_DIST += tests/system/soak-migration.sh
soak: all $(noinst_PROGRAMS)
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/system/soak-migration.sh
	$(MAKE) $(AM_MAKEFLAGS) soak-kills
# The agents SIGKILLed at random points 50 times during a run of
# migrations on the real control plane (test-migration-faults.sh's last
# part alone; check-system runs it with 10 after the other faults).
soak-kills: all $(noinst_PROGRAMS)
	srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	    LB_FAULTS= LB_FAULT_KILLS=$${LB_FAULT_KILLS:-50} \
	    $(abs_top_srcdir)/tests/system/test-migration-faults.sh
.PHONY: soak soak-kills

# The system tests with every agent under valgrind's memcheck: each agent
# writes valgrind-logs/agent.PID.log, which stays empty unless valgrind
# found an error (or a definite leak, for an agent stopped by a test).  It
# fails if a system test fails or any agent log is not empty.
check-valgrind: all $(noinst_PROGRAMS)
	rm -rf $(abs_top_builddir)/valgrind-logs
	@rc=0; $(MAKE) $(AM_MAKEFLAGS) check-system \
	    LB_VALGRIND=$(abs_top_builddir)/valgrind-logs || rc=$$?; \
	n=$$(ls $(abs_top_builddir)/valgrind-logs | wc -l); \
	bad=$$(find $(abs_top_builddir)/valgrind-logs -name 'agent.*.log' \
	       -size +0 | sort); \
	echo "valgrind: $$n agent processes, $$(echo $$bad | wc -w) with errors"; \
	for f in $$bad; do echo "=== $$f"; head -60 $$f; done; \
	test "$$rc" = 0 || echo "check-valgrind: a system test failed"; \
	test "$$rc" = 0 && test -n "$$n" && test "$$n" -gt 0 && test -z "$$bad"
.PHONY: check-valgrind
SYSTEM_TESTS += tests/system/test-migration-faults.sh
# The distributed gateway: node and host reachability, routed egress, both
# families.
SYSTEM_TESTS += tests/system/test-gateway.sh
EXTRA_DIST += tests/system/gateway.sh
EXTRA_DIST += tests/system/valgrind.supp
SYSTEM_TESTS += tests/system/test-gateway-migration.sh
# The Service handover: a migrating VM's connections through a Service
# with several backends keep their backend (lib/agent-svc-ct.c).
SYSTEM_TESTS += tests/system/test-svc-ct-handover.sh
EXTRA_DIST += tests/system/svc-conns.py
