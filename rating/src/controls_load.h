/* The control keys' loader, shared by the catalog and customers loaders. */
#ifndef RATE_CONTROLS_LOAD_H
#define RATE_CONTROLS_LOAD_H

#include "loader.h"
#include "rating/controls.h"

#define RATE__CTL_PATH 256

/* The nodes of the control keys of one plan or customer (each may be
   NULL: not written). */
struct rate__ctl_nodes {
        const struct tl_yaml_node *limits, *alerts, *progressive, *wallet;
};

/*
** Validate and build the controls written at 'path' ("plans.pro",
** "customers[c1]") into 'out', every fault reported to 'ld'. With 'cat',
** meters are resolved now (plans); without, they are kept by name for
** rate_controls_effective (customers), and `hard: null` lifts a limit.
*/
void rate__load_controls(struct rate__ld *ld, const struct rate_catalog *cat,
                         const struct rate__ctl_nodes *n, const char *path,
                         struct rate_controls *out);

#endif
