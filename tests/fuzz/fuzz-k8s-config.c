/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* Kubeconfig (lib/k8s-config): a YAML or JSON file, with the context named
 * by the first line if it starts with "#context=" (a YAML comment).
 *
 * Invariants: success gives a server URL and no error; failure gives an
 * error and no configuration; a clone equals the original; nothing leaks,
 * and no input, aliases and all, takes long or much memory (libFuzzer's
 * -timeout and -rss_limit_mb catch those).  Parsing reads no file. */

#include <config.h>
#include <string.h>
#include "fuzz.h"
#include "k8s-config.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

static bool
same_string(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    char *context = NULL;

    static const char tag[] = "#context=";
    if (size >= strlen(tag) && !memcmp(text, tag, strlen(tag))) {
        const char *start = text + strlen(tag);
        const char *nl = memchr(start, '\n', size - strlen(tag));
        if (nl) {
            context = xmemdup0(start, nl - start);
        }
    }

    struct k8s_config *cfg = NULL;
    char *error = NULL;
    int retval = k8s_config_parse_kubeconfig(text, size, "/base", context,
                                             &cfg, &error);
    if (retval) {
        FUZZ_ASSERT(!cfg && error && error[0], "failure %d", retval);
        free(error);
    } else {
        FUZZ_ASSERT(cfg && cfg->server, "success without a server");
        FUZZ_ASSERT(!strncmp(cfg->server, "http://", 7)
                    || !strncmp(cfg->server, "https://", 8),
                    "server \"%s\"", cfg->server);
        struct k8s_config *clone = k8s_config_clone(cfg);
        FUZZ_ASSERT(same_string(clone->server, cfg->server)
                    && same_string(clone->token, cfg->token)
                    && same_string(clone->ca_file, cfg->ca_file)
                    && clone->ca_data.size == cfg->ca_data.size
                    && clone->key_data.size == cfg->key_data.size,
                    "clone differs");
        k8s_config_destroy(clone);
        k8s_config_destroy(cfg);
    }
    free(context);
    return 0;
}
