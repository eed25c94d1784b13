/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

/* The model file (lib/model, the agent's --model): JSON text.
 *
 * Invariants: a failure leaves the model empty and says why; a model that
 * parses formats, and the pipeline computes its flows for each of its
 * chassis (up to a few) without fault; nothing leaks. */

#include <config.h>
#include <string.h>
#include "flow-table.h"
#include "fuzz.h"
#include "model.h"
#include "openvswitch/dynamic-string.h"
#include "pipeline.h"
#include "simap.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_quiet();
    return 0;
}

static void
compute(const struct lb_model *model, const char *chassis)
{
    struct simap ifaces = SIMAP_INITIALIZER(&ifaces);
    struct simap tunnels = SIMAP_INITIALIZER(&tunnels);
    unsigned int ofport = 1;

    const struct lb_port *port;
    HMAP_FOR_EACH (port, node, &model->ports) {
        if (port->chassis && !strcmp(port->chassis, chassis)) {
            simap_put(&ifaces, port->name, ofport++);
        }
    }
    const struct lb_chassis *ch;
    HMAP_FOR_EACH (ch, node, &model->chassis) {
        if (strcmp(ch->name, chassis)) {
            simap_put(&tunnels, ch->name, ofport++);
        }
    }

    struct lb_pipeline_ctx ctx = {
        .model = model,
        .chassis = chassis,
        .iface_ofports = &ifaces,
        .tunnel_ofports = &tunnels,
    };
    struct lb_flow_table flows;
    lb_flow_table_init(&flows);
    lb_pipeline_compute(&ctx, &flows);
    lb_flow_table_destroy(&flows);
    simap_destroy(&ifaces);
    simap_destroy(&tunnels);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmemdup0((const char *) data, size);
    struct lb_model model;

    lb_model_init(&model);
    char *error = lb_model_from_json_string(text, &model);
    if (error) {
        FUZZ_ASSERT(error[0], "empty error");
        FUZZ_ASSERT(!hmap_count(&model.ports)
                    && !hmap_count(&model.switches)
                    && !hmap_count(&model.chassis),
                    "failure left a model: %s", error);
        free(error);
    } else {
        struct ds s = DS_EMPTY_INITIALIZER;
        lb_model_format(&model, &s);
        ds_destroy(&s);

        int n = 0;
        const struct lb_chassis *ch;
        HMAP_FOR_EACH (ch, node, &model.chassis) {
            if (n++ >= 4) {
                break;
            }
            compute(&model, ch->name);
        }
    }
    lb_model_destroy(&model);
    free(text);
    return 0;
}
