# Unit tests: pure logic, cmocka, no root.  `make check` runs them.
UNIT_TESTS =
include tests/unit/automake.mk
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

# System tests: root, network namespaces, real ovs-vswitchd.  Run them with
# `make check-system`; they are kept apart as OVN keeps its system tests.
include tests/system/automake.mk

# Each system test is a script that exits 0 (pass), 77 (skip) or else
# (fail); they run one after another because they share the machine's
# namespaces and CPU.  LB_NO_SKIP=1 (utilities/livebind-test, which
# installs what they need) fails a run in which any test skipped: there a
# skip means something the tests need is missing, not a machine that
# cannot run them.
check-system: all $(noinst_PROGRAMS)
	@pass=0; fail=0; skip=0; failed=; skipped=; \
	for t in $(SYSTEM_TESTS); do \
	    echo "=== $$t"; \
	    srcdir=$(abs_top_srcdir) LB_BUILDDIR=$(abs_top_builddir) \
	        $(abs_top_srcdir)/$$t; rc=$$?; \
	    case $$rc in \
	        0) pass=$$((pass + 1)) ;; \
	        77) skip=$$((skip + 1)); skipped="$$skipped $$t"; \
	            echo "SKIP: $$t" ;; \
	        *) fail=$$((fail + 1)); failed="$$failed $$t" ;; \
	    esac; \
	done; \
	echo "system tests: $$pass passed, $$fail failed, $$skip skipped"; \
	test -z "$$failed" || { echo "failed:$$failed"; exit 1; }; \
	test -z "$$skipped" || test "$${LB_NO_SKIP:-0}" != 1 || { \
	    echo "skipped, though LB_NO_SKIP=1:$$skipped"; exit 1; }
.PHONY: check-system
EXTRA_DIST += $(SYSTEM_TESTS)
include tests/bench/automake.mk
include tests/fuzz/automake.mk

# Object shapes the unit tests read (whole directories).
EXTRA_DIST += tests/fixtures
