UNIT_TESTS += tests/unit/test-pipeline
tests_unit_test_pipeline_SOURCES = tests/unit/test-pipeline.c \
	tests/unit/test-flows.h
tests_unit_test_pipeline_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pipeline_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += tests/unit/test-cni
tests_unit_test_cni_SOURCES = tests/unit/test-cni.c
tests_unit_test_cni_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_cni_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-k8s-stream
tests_unit_test_k8s_stream_SOURCES = tests/unit/test-k8s-stream.c
tests_unit_test_k8s_stream_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_unit_test_k8s_stream_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_k8s_stream_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-k8s-config
tests_unit_test_k8s_config_SOURCES = tests/unit/test-k8s-config.c
tests_unit_test_k8s_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_k8s_config_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-k8s-objects
tests_unit_test_k8s_objects_SOURCES = tests/unit/test-k8s-objects.c \
	tests/unit/test-fixtures.h
tests_unit_test_k8s_objects_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_unit_test_k8s_objects_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_k8s_objects_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-derive
tests_unit_test_derive_SOURCES = tests/unit/test-derive.c \
	tests/unit/test-fixtures.h
tests_unit_test_derive_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_unit_test_derive_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_derive_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-egress-gateway
tests_unit_test_egress_gateway_SOURCES = tests/unit/test-egress-gateway.c
tests_unit_test_egress_gateway_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_egress_gateway_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-ipam
tests_unit_test_ipam_SOURCES = tests/unit/test-ipam.c
tests_unit_test_ipam_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ipam_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-migration
tests_unit_test_migration_SOURCES = tests/unit/test-migration.c
tests_unit_test_migration_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_migration_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-announce
tests_unit_test_announce_SOURCES = tests/unit/test-announce.c
tests_unit_test_announce_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_announce_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-port-gate
tests_unit_test_port_gate_SOURCES = tests/unit/test-port-gate.c
tests_unit_test_port_gate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_port_gate_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

# The agent's parts call no one but the libraries: see the script.
TESTS += tests/unit/check-agent-layering.sh
EXTRA_DIST += tests/unit/check-agent-layering.sh

UNIT_TESTS += tests/unit/test-metrics
tests_unit_test_metrics_SOURCES = tests/unit/test-metrics.c
tests_unit_test_metrics_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_metrics_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-events
tests_unit_test_events_SOURCES = tests/unit/test-events.c
tests_unit_test_events_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_events_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-metrics-server
tests_unit_test_metrics_server_SOURCES = tests/unit/test-metrics-server.c
tests_unit_test_metrics_server_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_metrics_server_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-pod-attachment
tests_unit_test_pod_attachment_SOURCES = tests/unit/test-pod-attachment.c
tests_unit_test_pod_attachment_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pod_attachment_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-pipeline-provider
tests_unit_test_pipeline_provider_SOURCES = \
	tests/unit/test-pipeline-provider.c tests/unit/test-flows.h
tests_unit_test_pipeline_provider_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pipeline_provider_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-policy
tests_unit_test_policy_SOURCES = tests/unit/test-policy.c \
	tests/unit/test-flows.h tests/unit/test-fixtures.h
tests_unit_test_policy_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_unit_test_policy_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_policy_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += tests/unit/test-policy-admit
tests_unit_test_policy_admit_SOURCES = tests/unit/test-policy-admit.c \
	tests/unit/test-flows.h
tests_unit_test_policy_admit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_policy_admit_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += tests/unit/test-multinic
tests_unit_test_multinic_SOURCES = tests/unit/test-multinic.c \
	tests/unit/test-fixtures.h
tests_unit_test_multinic_CPPFLAGS = $(AM_CPPFLAGS) \
	-DLB_FIXTURES_DEFAULT='"$(abs_top_srcdir)/tests/fixtures"'
tests_unit_test_multinic_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_multinic_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += tests/unit/test-pipeline-gateway
tests_unit_test_pipeline_gateway_SOURCES = \
	tests/unit/test-pipeline-gateway.c tests/unit/test-flows.h
tests_unit_test_pipeline_gateway_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pipeline_gateway_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
UNIT_TESTS += tests/unit/test-svc-ct-handover
tests_unit_test_svc_ct_handover_SOURCES = tests/unit/test-svc-ct-handover.c \
	tests/unit/test-flows.h
tests_unit_test_svc_ct_handover_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_svc_ct_handover_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS += tests/unit/test-incremental-check
tests_unit_test_incremental_check_SOURCES = \
	tests/unit/test-incremental-check.c
tests_unit_test_incremental_check_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_incremental_check_LDADD = $(LIVEBIND_LIBS) $(CMOCKA_LIBS)
