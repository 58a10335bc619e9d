/* Internal: the migrations embedded from schemas/sql at build time. */
#ifndef SCH_MIGRATIONS_H
#define SCH_MIGRATIONS_H

#include <stddef.h>

struct sch__migration {
        int version;
        const char *name;
        const char *sql;
        size_t len;
};

extern const struct sch__migration sch__migrations[];
extern const unsigned sch__migration_count;

#endif
