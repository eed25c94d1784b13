/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_TEST_FIXTURES_H
#define LIVEBIND_TEST_FIXTURES_H 1

/* Object shapes for unit tests, from tests/fixtures/ (or $LB_FIXTURES).
 * Include after <cmocka.h> and "lb-json.h". */

#include <stdlib.h>
#include <string.h>
#include "util.h"

static inline json_t *
fixture(const char *name)
{
    const char *dir = getenv("LB_FIXTURES");
    char *file_name = xasprintf("%s/%s", dir && dir[0] ? dir
                                : LB_FIXTURES_DEFAULT, name);
    json_error_t err;
    json_t *json = json_load_file(file_name, JSON_REJECT_DUPLICATES, &err);
    if (!json) {
        fail_msg("%s:%d: %s", file_name, err.line, err.text);
    }
    free(file_name);
    return json;
}

/* Sets 'value' (a reference it takes) at 'path' in 'root': keys separated
 * by '>', since keys contain dots and slashes; objects on the way are
 * created; a null 'value' deletes.  Returns 'root'. */
static inline json_t *
jset(json_t *root, const char *path, json_t *value)
{
    char *copy = xstrdup(path);
    char *save = NULL;
    json_t *obj = root;
    char *key = strtok_r(copy, ">", &save);
    for (;;) {
        char *next = strtok_r(NULL, ">", &save);
        if (!next) {
            if (value) {
                json_object_set_new(obj, key, value);
            } else {
                json_object_del(obj, key);
            }
            break;
        }
        json_t *child = json_object_get(obj, key);
        if (!json_is_object(child)) {
            child = lb_json_obj();
            json_object_set_new(obj, key, child);
        }
        obj = child;
        key = next;
    }
    free(copy);
    return root;
}

#endif /* tests/unit/test-fixtures.h */
