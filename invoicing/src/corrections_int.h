/* What corrections.c and credit_note.c share: one transaction with its
   actor, and the database's refusals as statuses. */
#ifndef INV_CORRECTIONS_INT_H
#define INV_CORRECTIONS_INT_H

#include <libpq-fe.h>

#include "core/dec.h"
#include "core/error.h"

/* BEGIN, and the transaction's tally.actor set to 'actor' (the triggers
   of migration 0011 record it). */
tl_status inv__corr_begin(PGconn *conn, const char *actor,
                          struct tl_error *err);

/* COMMIT. */
tl_status inv__corr_commit(PGconn *conn, struct tl_error *err);

/*
** A failed statement 'r' (taken) as a status, after ROLLBACK: the
** triggers' refusals keep their own message, check_violation as TL_EINVAL,
** a forbidden state change (object_not_in_prerequisite_state,
** integrity_constraint_violation) as TL_ECONFLICT; the rest TL_EDB
** prefixed with 'what'.
*/
tl_status inv__corr_fail(PGconn *conn, PGresult *r, const char *what,
                         struct tl_error *err);

/*
** 'text' as a positive amount of at most 'scale' fractional digits (the
** currency's, 'currency' naming it in messages) into 'out'. TL_EINVAL
** naming 'what' ("--amount", "amount").
*/
tl_status inv__corr_amount(const char *what, const char *text, int scale,
                           const char *currency, struct tl_dec *out,
                           struct tl_error *err);

#endif
