/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_LB_JSON_H
#define LIVEBIND_LB_JSON_H 1

/* jansson, minus the names libopenvswitch takes.
 *
 * libopenvswitch also defines json_object(), json_array(), json_string(),
 * json_integer(), json_real() and json_equal(), and in a binary that links
 * OVS's json.o (anything using vlog or unixctl does) a call to jansson's by
 * one of these names reaches OVS's and crashes.  Include this header after
 * every other one: from here on the compiler refuses those names, and these
 * helpers stand in for them. */

#include <string.h>
#include <jansson.h>

#pragma GCC poison json_object json_array json_string json_integer
#pragma GCC poison json_real json_equal

static inline json_t *
lb_json_str(const char *s)
{
    return json_stringn(s, strlen(s));
}

static inline json_t *
lb_json_int(json_int_t v)
{
    return json_pack("I", v);
}

static inline json_t *
lb_json_real(double v)
{
    return json_pack("f", v);
}

static inline json_t *
lb_json_arr(void)
{
    return json_pack("[]");
}

static inline json_t *
lb_json_obj(void)
{
    return json_pack("{}");
}

#endif /* lib/lb-json.h */
