-- 0010: credit grants with expiry, and per-grant consumption.
--
-- A grant is a ledger row with amount > 0 and grant_id NULL; it may expire
-- (expires_at), after which its remainder is never spent. Every movement on
-- a grant (an invoice drawing from it, a void returning what an invoice
-- drew, an import lowering the file's total) is a row naming the grant in
-- grant_id, so a grant's remainder is its amount plus its movements, and an
-- invoice's draws are exactly its rows with invoice_id and grant_id.
ALTER TABLE credit_ledger
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN grant_id bigint REFERENCES credit_ledger (entry_id);
CREATE INDEX credit_ledger_grant ON credit_ledger (grant_id)
    WHERE grant_id IS NOT NULL;

-- Rows written before this migration name no grant: grants then had no
-- expiry and were spent as one pool, so each older draw (negative row) is
-- split over the grants in the order they were made, as the spending
-- order now is for grants without expiry.
DO $$
DECLARE
    d record;
    g record;
    need numeric;
    take numeric;
BEGIN
    FOR d IN SELECT entry_id, customer_id, amount, reason, invoice_id,
                    created_at
               FROM credit_ledger
              WHERE amount < 0 AND grant_id IS NULL
              ORDER BY entry_id
    LOOP
        need := -d.amount;
        FOR g IN SELECT l.entry_id, l.amount + coalesce((SELECT sum(m.amount)
                        FROM credit_ledger m WHERE m.grant_id = l.entry_id),
                        0) AS left
                   FROM credit_ledger l
                  WHERE l.customer_id = d.customer_id AND l.amount > 0
                    AND l.grant_id IS NULL
                  ORDER BY l.entry_id
        LOOP
            EXIT WHEN need <= 0;
            CONTINUE WHEN g.left <= 0;
            take := least(g.left, need);
            INSERT INTO credit_ledger (customer_id, amount, reason,
                                       invoice_id, grant_id, created_at)
            VALUES (d.customer_id, -take, d.reason, d.invoice_id, g.entry_id,
                    d.created_at);
            need := need - take;
        END LOOP;
        IF need > 0 THEN
            RAISE EXCEPTION 'credit_ledger row % draws % more than its '
                'customer was granted', d.entry_id, need;
        END IF;
        DELETE FROM credit_ledger WHERE entry_id = d.entry_id;
    END LOOP;
END $$;

-- From now on a draw names its grant; a grant names none.
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_draw_names_grant
    CHECK ((amount > 0 AND grant_id IS NULL) OR grant_id IS NOT NULL);

-- A customer's overrides of its plan's limits and alerts, and its wallet
-- (customers file or PUT /v1/customers/{id}), as the customers file wrote
-- them; NULL when none.
ALTER TABLE customers ADD COLUMN controls jsonb;

-- What voiding an invoice gives back (the corrections work calls it in its
-- void's transaction): each draw of the invoice returned to the grant it
-- came from, so it keeps that grant's expiry (a grant expired since gives
-- nothing back that can be spent). Once per invoice and reason: a second
-- call returns 0. The amount returned is the answer.
CREATE FUNCTION tally_credit_return(p_invoice bigint, p_reason text)
RETURNS numeric LANGUAGE sql AS $$
    WITH back AS (
        INSERT INTO credit_ledger (customer_id, amount, reason, invoice_id,
                                   grant_id)
        SELECT customer_id, -sum(amount), p_reason, p_invoice, grant_id
          FROM credit_ledger
         WHERE invoice_id = p_invoice AND grant_id IS NOT NULL
           AND amount < 0
           AND NOT EXISTS (SELECT 1 FROM credit_ledger r
                            WHERE r.invoice_id = p_invoice
                              AND r.reason = p_reason)
         GROUP BY customer_id, grant_id
        RETURNING amount)
    SELECT coalesce(sum(amount), 0) FROM back
$$;
