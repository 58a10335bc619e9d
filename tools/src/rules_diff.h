/* `tally rules diff`: what changed between two catalogs, price by price. */
#ifndef CLI_RULES_DIFF_H
#define CLI_RULES_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include "rating/catalog.h"

/*
** Print to 'out' one line per difference from 'a' to 'b': "+ path" added,
** "- path" removed, "~ path: old -> new" changed. Returns the count.
*/
size_t cli_rules_diff(const struct rate_catalog *a,
                      const struct rate_catalog *b, FILE *out);

#endif
