/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_FUZZ_H
#define LIVEBIND_FUZZ_H 1

/* What every libFuzzer harness under tests/fuzz shares.  See README.md. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "openvswitch/vlog.h"

/* libFuzzer's entry points; a harness defines the first and may define the
 * second. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Rate-limited warnings about bad input are the code working as meant;
 * printing them would only slow the fuzzer down. */
static inline void
fuzz_quiet(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
}

/* An invariant the harness checks: a violation is a finding, reported as a
 * crash so that libFuzzer saves the input. */
#define FUZZ_ASSERT(COND, ...)                                  \
    do {                                                        \
        if (!(COND)) {                                          \
            fprintf(stderr, "invariant violated: %s: ", #COND); \
            fprintf(stderr, __VA_ARGS__);                       \
            fputc('\n', stderr);                                \
            abort();                                            \
        }                                                       \
    } while (0)

#endif /* tests/fuzz/fuzz.h */
