# Unit tests: pure logic, cmocka, no root.  `make check` runs them.
UNIT_TESTS =
include tests/unit/automake.mk
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

# System tests: root, network namespaces, real ovs-vswitchd.  Run them with
# `make check-system`; they are kept apart as OVN keeps its system tests.
include tests/system/automake.mk
