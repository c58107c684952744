#include "panel_format.h"

#include <stdio.h>

int panel_format_double(char *buffer, size_t size, const char *format, double value) {
    return snprintf(buffer, size, format, value);
}
