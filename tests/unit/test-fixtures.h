/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_TEST_FIXTURES_H
#define LIVEBIND_TEST_FIXTURES_H 1

/* Object shapes for unit tests, from tests/fixtures/ (or $LB_FIXTURES).
 * Include after <cmocka.h> and "lb-json.h". */

#include <stdlib.h>
#include "util.h"

static inline json_t *
lb_fixture_load(const char *name)
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

#endif /* tests/unit/test-fixtures.h */
