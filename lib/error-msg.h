/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#ifndef LIVEBIND_ERROR_MSG_H
#define LIVEBIND_ERROR_MSG_H 1

#include "openvswitch/compiler.h"

/* Stores a message in '*errorp' (if 'errorp' is nonnull) unless one is
 * already there: along a chain of steps the first failure is the one worth
 * reporting. */
void lb_set_error(char **errorp, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);

#endif /* lib/error-msg.h */
