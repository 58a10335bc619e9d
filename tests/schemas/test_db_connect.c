/* Connecting: a malformed DATABASE_URL is refused without quoting it, since
   libpq's own message would repeat pieces of it, password included. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/db.h"

static const char *const MALFORMED[] = {
    "host=/tmp password=s3cr3t-pw garbage",
    "host=/tmp password='s3cr3t-pw",
    "postgresql://u:s3cr3t-pw@[::1/db",
    "host=/tmp passwort=s3cr3t-pw",
};

Test(db_connect, a_malformed_url_is_einval_and_never_quoted)
{
        for (size_t i = 0; i < sizeof MALFORMED / sizeof *MALFORMED; i++) {
                struct tl_error err = {TL_OK, ""};
                PGconn *c = NULL;

                cr_assert_eq(setenv("DATABASE_URL", MALFORMED[i], 1), 0);
                cr_assert_eq(sch_db_connect(&c, &err), TL_EINVAL, "%s",
                             err.msg);
                cr_assert_null(c);
                cr_assert_null(strstr(err.msg, "s3cr3t"), "%s", err.msg);
                cr_assert_not_null(strstr(err.msg, "DATABASE_URL"), "%s",
                                   err.msg);
        }
}
