noinst_LTLIBRARIES += lib/liblivebind.la
lib_liblivebind_la_SOURCES = \
	lib/agent.c \
	lib/agent.h \
	lib/agent-cni.c \
	lib/agent-cni.h \
	lib/agent-k8s.c \
	lib/agent-k8s.h \
	lib/agent-migration.c \
	lib/agent-ra.c \
	lib/agent-ra.h \
	lib/agent-migration.h \
	lib/agent-view.h \
	lib/agent-writes.c \
	lib/agent-writes.h \
	lib/announce.c \
	lib/announce.h \
	lib/cookie.h \
	lib/flow-table.c \
	lib/flow-table.h \
	lib/lb-json.h \
	lib/model.c \
	lib/model.h \
	lib/ofctrl.c \
	lib/ofctrl.h \
	lib/oftable.h \
	lib/ovs-bridge.c \
	lib/ovs-bridge.h \
	lib/pipeline.c \
	lib/pipeline.h \
	lib/pipeline-gateway.c \
	lib/pipeline-gateway.h \
	lib/pipeline-provider.c \
	lib/pipeline-provider.h \
	lib/policy.c \
	lib/policy.h \
	lib/policy-k8s.c \
	lib/policy-derive.c \
	lib/policy-handover.c
lib_liblivebind_la_SOURCES += lib/pod-plumb.c lib/pod-plumb.h
lib_liblivebind_la_SOURCES += lib/error-msg.c lib/error-msg.h
lib_liblivebind_la_SOURCES += lib/policy-admit.c lib/policy-admit.h \
	lib/ct-dump.c lib/ct-dump.h lib/ct-dump-client.c lib/ct-dump-client.h \
	lib/agent-admit.c lib/agent-admit.h
lib_liblivebind_la_SOURCES += lib/gateway-host.c lib/gateway-host.h
lib_liblivebind_la_SOURCES += lib/svc-ct-handover.c lib/svc-ct-handover.h \
	lib/agent-svc-ct.c lib/agent-svc-ct.h
lib_liblivebind_la_SOURCES += lib/port-gate.c lib/port-gate.h
lib_liblivebind_la_SOURCES += lib/egress-gateway.c lib/egress-gateway.h \
	lib/egress-gateway-host.c lib/egress-gateway-host.h lib/nl-prefix.h
lib_liblivebind_la_SOURCES += lib/k8s-client.c lib/k8s-client.h \
	lib/k8s-config.c lib/k8s-config.h lib/k8s-stream.c lib/k8s-stream.h
lib_liblivebind_la_SOURCES += lib/cni.c lib/cni.h lib/cni-server.c \
	lib/cni-server.h
lib_liblivebind_la_SOURCES += lib/netns-fd.c lib/netns-fd.h
lib_liblivebind_la_SOURCES += lib/multinic.c lib/multinic.h
lib_liblivebind_la_SOURCES += lib/incremental-check.c lib/incremental-check.h
lib_liblivebind_la_SOURCES += lib/derive.c lib/derive.h lib/ipam.c lib/ipam.h \
	lib/k8s-objects.c lib/k8s-objects.h lib/migration.c lib/migration.h
lib_liblivebind_la_SOURCES += lib/events.c lib/events.h lib/metrics.c \
	lib/metrics.h lib/metrics-server.c lib/metrics-server.h \
	lib/process-metrics.c lib/process-metrics.h
