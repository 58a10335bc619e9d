/* Key scopes: "admin", "events:write", "customer:<id>". */
#include "api/keys.h"

#include <string.h>

#include "core/str.h"
#include "schemas/event.h"

tl_status api_scope_parse(const char *scope, struct api_principal *out,
                          struct tl_error *err)
{
        static const char CUSTOMER[] = "customer:";
        size_t n = sizeof CUSTOMER - 1, len;

        if (!scope)
                return tl_fail(err, TL_EINVAL, "scope: missing");
        if (strcmp(scope, "admin") == 0) {
                out->kind = API_SCOPE_ADMIN;
                out->customer[0] = '\0';
                return TL_OK;
        }
        if (strcmp(scope, "events:write") == 0) {
                out->kind = API_SCOPE_EVENTS_WRITE;
                out->customer[0] = '\0';
                return TL_OK;
        }
        len = strlen(scope);
        /* The id must be one an event could carry as its subject. */
        if (len > n && strncmp(scope, CUSTOMER, n) == 0 &&
            len - n <= SCH_MAX_SUBJECT_BYTES && len - n <= API_SCOPE_MAX &&
            tl_utf8_valid(scope + n, len - n)) {
                out->kind = API_SCOPE_CUSTOMER;
                memcpy(out->customer, scope + n, len - n + 1);
                return TL_OK;
        }
        return tl_fail(err, TL_EINVAL,
                       "scope: expected admin, events:write or "
                       "customer:<id> (an id of 1..%d bytes of UTF-8)",
                       SCH_MAX_SUBJECT_BYTES);
}
