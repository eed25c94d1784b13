/*
 * Copyright (c) 2026 The livebind authors.
 * Licensed under the Apache License, Version 2.0.
 */

#include <config.h>
#include "error-msg.h"

#include <stdarg.h>
#include "util.h"

void
lb_set_error(char **errorp, const char *format, ...)
{
    if (errorp && !*errorp) {
        va_list args;

        va_start(args, format);
        *errorp = xvasprintf(format, args);
        va_end(args);
    }
}
