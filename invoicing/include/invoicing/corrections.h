/* Corrections of finalized invoices (spec: subscriptions.md, "Correcting
   invoices"): payments, voids, credit notes, the history of each invoice and
   the overdue list. Each change is one transaction; the database's triggers
   (migration 0011) refuse every forbidden transition themselves, so these
   functions only name the invoice, the actor and the amounts. */
#ifndef INV_CORRECTIONS_H
#define INV_CORRECTIONS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/str.h"
#include "invoicing/invoicing.h"

/*
** Statuses shared by the functions below: TL_ENOTFOUND for an unknown
** number; TL_EINVAL for a bad amount, an overpayment or a credit beyond the
** line (the database's own message, which names the invoice, the amounts
** and what is left); TL_ECONFLICT for a transition the invoice's state
** forbids (void twice, a paid invoice voided, anything on a void one);
** TL_EDB, TL_ENOMEM. 'actor' (who: an OS user, an API key's name) is
** recorded with every change.
*/

/*
** Void finalized, unpaid invoice 'number' for 'reason' (non-empty). The
** credit it consumed returns to the customer's balance in the same
** transaction; '*returned' (may be NULL) gets it as text ("50.00"), at
** least 'size' 32 bytes.
*/
tl_status inv_void(PGconn *conn, const char *number, const char *reason,
                   const char *actor, char *returned, size_t size,
                   struct tl_error *err);

/*
** Record a payment of 'amount' (a positive decimal with at most the
** currency's digits) with 'reference' against invoice 'number'; a
** reference already recorded on it is TL_ECONFLICT (a retried payment is
** not counted twice). Partial payments add up; the invoice is paid when they
*reach its total. '*out'
** gets the invoice's payment state as a JSON object (owned by the caller):
** {"number", "amount" (this payment), "payment_status", "amount_paid",
** "total", "outstanding", "currency"}, amounts at the currency's digits.
*/
tl_status inv_pay(PGconn *conn, const char *number, const char *amount,
                  const char *reference, const char *actor, json_t **out,
                  struct tl_error *err);

/*
** Issue a credit note of 'amount' against line 'line' of finalized invoice
** 'number' for 'reason'. 'line' is the line's id, charge, model_class or
** period, or "kind:ref", or a kind alone for a line without a ref
** ("minimum"). Numbered CN-YYYY-NNNNNN from the issuer cfg->issuer.id's own
** counter (year of issue), gap-free. The amount becomes a credit grant.
** '*doc' gets the credit note's document (owned by the caller).
*/
tl_status inv_credit_note(PGconn *conn, const struct inv_config *cfg,
                          const char *number, const char *line,
                          const char *amount, const char *reason,
                          const char *actor, json_t **doc,
                          struct tl_error *err);

/*
** The document of invoice or credit note 'number' as served: the stored
** body unchanged plus, for an invoice, "payment_status", "amount_paid",
** "due" (issued + cfg->payment_terms_days) and "history" (finalization,
** payments, voids and credit notes with "at" and "by"). '*doc' is owned by
** the caller. TL_ENOTFOUND when neither exists.
*/
tl_status inv_document_get(PGconn *conn, const struct inv_config *cfg,
                           const char *number, json_t **doc,
                           struct tl_error *err);

/*
** Add the served members of inv_document_get to the invoice body 'doc'
** read from the row whose invoice_id is 'invoice_id'.
*/
tl_status inv_document_extend(PGconn *conn, const struct inv_config *cfg,
                              const char *invoice_id, json_t *doc,
                              struct tl_error *err);

/*
** The open invoices past their due date on day 'today_iso' (YYYY-MM-DD),
** oldest due first, as a table or (json) an array of {"number",
** "customer", "period", "due", "days_overdue", "total", "amount_paid",
** "outstanding", "currency"}.
*/
tl_status inv_overdue(PGconn *conn, const struct inv_config *cfg,
                      const char *today_iso, bool json, struct tl_buf *out,
                      struct tl_error *err);

/* Write 'doc' (an invoice or credit note document) as <name>.json and
   <name>.pdf in 'dir', named by its "number". */
tl_status inv_document_write(const json_t *doc, const char *dir,
                             struct tl_error *err);

#endif
