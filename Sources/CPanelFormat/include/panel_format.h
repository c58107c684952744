#ifndef PANEL_FORMAT_H
#define PANEL_FORMAT_H

#include <stddef.h>

/// `snprintf(buffer, size, format, value)` for one double: Swift cannot call a variadic C function, and
/// its `withVaList` boxes the argument and casts it dynamically (~8,000 instructions a number).
int panel_format_double(char *buffer, size_t size, const char *format, double value);

#endif
