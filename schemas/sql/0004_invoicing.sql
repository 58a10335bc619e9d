-- 0004: what the monthly close keeps besides the invoice documents.
--
-- usage_events is the close's fingerprint of the usage an invoice priced:
-- the events its period's rollups count plus the seat events up to the
-- period's end. Events are never deleted, so a larger count later means
-- late events, which the next invoice carries as an adjustment.
ALTER TABLE invoices
    ADD COLUMN usage_events bigint NOT NULL DEFAULT 0,
    ADD COLUMN plan text,
    ADD COLUMN cohorts jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN subtotal numeric(24, 6),
    ADD COLUMN base numeric(24, 6),  -- fee + seat + usage + minimum lines
    ADD COLUMN issuer text;
-- The document is kept as written (json, not jsonb), so a finalized invoice
-- re-renders byte for byte, members in their order.
ALTER TABLE invoices ALTER COLUMN body TYPE json USING body::json;
CREATE INDEX invoices_period ON invoices (period_start, status);

-- An adjustment line, once finalized: which invoice carries it, which
-- period it corrects, by how much, and the fingerprint it brought that
-- period up to (so the same late events are never billed twice).
CREATE TABLE invoice_adjustments (
    adjustment_id    bigserial PRIMARY KEY,
    invoice_id       bigint NOT NULL REFERENCES invoices,
    customer_id      text NOT NULL REFERENCES customers,
    corrected_period date NOT NULL,
    amount           numeric(24, 6) NOT NULL,
    usage_events     bigint NOT NULL,
    UNIQUE (invoice_id, corrected_period)
);
CREATE INDEX invoice_adjustments_customer
    ON invoice_adjustments (customer_id, corrected_period);

-- A finalized invoice never changes: not by a bug, not by hand.
CREATE FUNCTION tally_invoice_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'invoice % is finalized and cannot change', OLD.number
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER invoices_frozen BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW WHEN (OLD.status = 'finalized')
    EXECUTE FUNCTION tally_invoice_frozen();

-- Credit grants from customer files are recorded per import so a re-import
-- of the same file grants nothing new (the file states the total granted).
CREATE INDEX credit_ledger_reason ON credit_ledger (customer_id, reason);
