/* Internals of the catalog loader shared by its two files. */
#ifndef RATE_CATALOG_LOAD_H
#define RATE_CATALOG_LOAD_H

#include "loader.h"
#include "rating/catalog.h"

#define RATE__PATH_MAX 256

struct rate__cload {
        struct rate__ld ld;
        struct rate_catalog *cat;
};

/*
** Resolve `extends` among the plans of map 'n' and build each into
** c->cat->plans (meters must be loaded first); failures are reported.
*/
void rate__load_plans(struct rate__cload *c, const struct tl_yaml_node *n);

/*
** Load charge 'ch''s `included_per_seat` node 'n' (at 'path') of plan 'pl',
** whose seats are loaded already ('seats_written': the plan, or a plan it
** extends, has a `seats` key); failures are reported.
*/
void rate__load_per_seat(struct rate__ld *ld, const struct rate_plan *pl,
                         bool seats_written, const struct tl_yaml_node *n,
                         const char *path, struct rate_charge *ch);

#endif
