/* POST /v1/invoices/{number}/void, /credit-notes and /payments (scope:
   admin): invoicing's corrections with the API key's name as the actor.
   The rules (and their messages) are the database's, as for the CLI. */
#include "internal.h"

#include <string.h>

#include "invoicing/corrections.h"

/* The request body as a JSON object holding exactly string members
   'names' ('count' of them); answers 400 itself when it is not. */
static json_t *body_of(struct api__call *c, const char *const *names,
                       size_t count, const char *shape,
                       enum MHD_Result *answered)
{
        json_t *body =
            json_loadb((const char *)c->req->body.data, c->req->body.len,
                       JSON_REJECT_DUPLICATES, NULL);
        bool ok = json_is_object(body) && json_object_size(body) == count;

        for (size_t i = 0; ok && i < count; i++) {
                const char *s =
                    json_string_value(json_object_get(body, names[i]));

                ok = s && *s && strlen(s) <= 1000;
        }
        if (ok)
                return body;
        json_decref(body);
        *answered =
            api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request", shape, NULL);
        return NULL;
}

static const char *member(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

enum MHD_Result api__void(struct api__call *c)
{
        static const char *const NAMES[] = {"reason"};
        struct tl_error err = {TL_OK, ""};
        char back[64];
        enum MHD_Result a;
        json_t *body =
            body_of(c, NAMES, 1, "the body must be {\"reason\": \"...\"}", &a);
        tl_status rc;

        if (!body)
                return a;
        if (!api__db(c, &err)) {
                json_decref(body);
                return api__fail(c, TL_EDB, &err);
        }
        rc = inv_void(c->db, c->seg[2], member(body, "reason"), c->who.name,
                      back, sizeof back, &err);
        json_decref(body);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, MHD_HTTP_OK,
                         json_pack("{s:s, s:s, s:s}", "number", c->seg[2],
                                   "payment_status", "void", "credit_returned",
                                   back));
}

enum MHD_Result api__credit_note(struct api__call *c)
{
        static const char *const NAMES[] = {"line", "amount", "reason"};
        struct tl_error err = {TL_OK, ""};
        enum MHD_Result a;
        json_t *doc = NULL,
               *body = body_of(c, NAMES, 3,
                               "the body must be {\"line\": \"...\", "
                               "\"amount\": \"10.00\", \"reason\": \"...\"}",
                               &a);
        tl_status rc;

        if (!body)
                return a;
        if (!api__db(c, &err)) {
                json_decref(body);
                return api__fail(c, TL_EDB, &err);
        }
        rc = inv_credit_note(c->db, c->srv->inv, c->seg[2],
                             member(body, "line"), member(body, "amount"),
                             member(body, "reason"), c->who.name, &doc, &err);
        json_decref(body);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, MHD_HTTP_CREATED, doc);
}

enum MHD_Result api__payment(struct api__call *c)
{
        static const char *const NAMES[] = {"amount", "reference"};
        struct tl_error err = {TL_OK, ""};
        enum MHD_Result a;
        json_t *state = NULL,
               *body = body_of(c, NAMES, 2,
                               "the body must be {\"amount\": \"25.00\", "
                               "\"reference\": \"...\"}",
                               &a);
        tl_status rc;

        if (!body)
                return a;
        if (!api__db(c, &err)) {
                json_decref(body);
                return api__fail(c, TL_EDB, &err);
        }
        rc = inv_pay(c->db, c->seg[2], member(body, "amount"),
                     member(body, "reference"), c->who.name, &state, &err);
        json_decref(body);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, MHD_HTTP_CREATED, state);
}
