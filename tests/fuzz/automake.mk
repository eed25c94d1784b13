# libFuzzer harnesses, one per parser of untrusted bytes (tests/fuzz/README.md).
# Built only in a build directory configured with --enable-fuzzing (clang):
#     utilities/bootstrap.sh fuzz CC=clang --enable-fuzzing
# `make fuzz` runs each for FUZZ_SECONDS (default 60); the test command runs
# each briefly.
FUZZERS = \
	tests/fuzz/fuzz-cni \
	tests/fuzz/fuzz-ct-dump \
	tests/fuzz/fuzz-derive \
	tests/fuzz/fuzz-k8s-config \
	tests/fuzz/fuzz-k8s-objects \
	tests/fuzz/fuzz-k8s-stream \
	tests/fuzz/fuzz-model \
	tests/fuzz/fuzz-packet-in \
	tests/fuzz/fuzz-svc-ct

FUZZ_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

tests_fuzz_fuzz_cni_SOURCES = tests/fuzz/fuzz-cni.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_cni_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_cni_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_ct_dump_SOURCES = tests/fuzz/fuzz-ct-dump.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_ct_dump_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ct_dump_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_derive_SOURCES = tests/fuzz/fuzz-derive.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_derive_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_derive_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_k8s_config_SOURCES = tests/fuzz/fuzz-k8s-config.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_k8s_config_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_k8s_config_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_k8s_objects_SOURCES = tests/fuzz/fuzz-k8s-objects.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_k8s_objects_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_k8s_objects_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_k8s_stream_SOURCES = tests/fuzz/fuzz-k8s-stream.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_k8s_stream_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_k8s_stream_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_model_SOURCES = tests/fuzz/fuzz-model.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_model_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_model_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_packet_in_SOURCES = tests/fuzz/fuzz-packet-in.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_packet_in_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_packet_in_LDADD = $(LIVEBIND_LIBS)
tests_fuzz_fuzz_svc_ct_SOURCES = tests/fuzz/fuzz-svc-ct.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_svc_ct_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_svc_ct_LDADD = $(LIVEBIND_LIBS)

EXTRA_DIST += \
	tests/fuzz/README.md \
	tests/fuzz/corpus \
	tests/fuzz/make-seeds.py \
	tests/fuzz/run-fuzzers.sh

FUZZ_SECONDS = 60
if FUZZING
EXTRA_PROGRAMS += $(FUZZERS)
CLEANFILES += $(FUZZERS)

# Runs every harness (or those named in FUZZERS_TO_RUN, e.g. "k8s-stream
# cni") for FUZZ_SECONDS each; fails on any crash, leak, hang or broken
# invariant, leaving the input under tests/fuzz/findings/.
fuzz: $(FUZZERS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) LB_BUILDDIR=$(abs_top_builddir) \
	    $(abs_top_srcdir)/tests/fuzz/run-fuzzers.sh $(FUZZERS_TO_RUN)
else
fuzz:
	@echo "make fuzz: this build directory has no fuzzers; configure one" \
	      "with clang, e.g." >&2
	@echo "    utilities/bootstrap.sh fuzz CC=clang --enable-fuzzing" >&2
	@exit 1
endif
.PHONY: fuzz
