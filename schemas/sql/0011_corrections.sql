-- 0011: corrections of finalized invoices (issue 22): payments, voids and
-- credit notes. The database itself refuses every forbidden transition, so
-- a direct UPDATE is held to the same rules as `tally invoice`: the frozen
-- trigger lets a finalized invoice change only its payment columns, and
-- only open -> open (more paid), open -> paid, open -> void.
--
-- Who made a change is the transaction's `tally.actor` setting (the CLI's
-- OS user, the API key's name), else the database user.

ALTER TABLE invoices
    ADD COLUMN payment_status text NOT NULL DEFAULT 'open'
        CHECK (payment_status IN ('open', 'paid', 'void')),
    ADD COLUMN amount_paid numeric(24, 6) NOT NULL DEFAULT 0
        CHECK (amount_paid >= 0 AND amount_paid <= greatest(total, 0)),
    ADD COLUMN voided_at timestamptz,
    ADD COLUMN void_reason text,
    ADD CONSTRAINT invoices_draft_unpaid
        CHECK (status = 'finalized' OR (payment_status = 'open'
                                        AND amount_paid = 0)),
    ADD CONSTRAINT invoices_void_reason
        CHECK ((payment_status = 'void') = (voided_at IS NOT NULL
                                            AND void_reason IS NOT NULL));

-- A voided invoice keeps its number but no longer holds its period: the
-- close may issue the period again under a new number.
ALTER TABLE invoices DROP CONSTRAINT invoices_customer_id_period_start_key;
CREATE UNIQUE INDEX invoices_customer_period ON invoices
    (customer_id, period_start) WHERE payment_status <> 'void';

CREATE TABLE invoice_payments (
    payment_id  bigserial PRIMARY KEY,
    invoice_id  bigint NOT NULL REFERENCES invoices,
    amount      numeric(24, 6) NOT NULL CHECK (amount > 0),
    reference   text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- A payment sent twice (a retried request) is recorded once.
    UNIQUE (invoice_id, reference)
);

-- Gap-free credit-note numbers: one counter row per issuer and year,
-- advanced inside the issuing transaction (as invoice_numbers).
CREATE TABLE credit_note_numbers (
    issuer   text NOT NULL,
    year     integer NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (issuer, year)
);

-- line_index is the credited line's place in the invoice's lines; the
-- body is the credit note's document, kept as written (like invoices).
CREATE TABLE credit_notes (
    credit_note_id bigserial PRIMARY KEY,
    number         text NOT NULL UNIQUE,
    invoice_id     bigint NOT NULL REFERENCES invoices,
    customer_id    text NOT NULL REFERENCES customers,
    line_index     integer NOT NULL CHECK (line_index >= 0),
    line_key       text NOT NULL,
    amount         numeric(24, 6) NOT NULL CHECK (amount > 0),
    reason         text NOT NULL,
    body           json NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id, line_index);

-- Every state change of an invoice, for its JSON's "history".
CREATE TABLE invoice_history (
    history_id  bigserial PRIMARY KEY,
    invoice_id  bigint NOT NULL REFERENCES invoices,
    event       text NOT NULL,   -- payment | paid | void | credit_note
    amount      numeric(24, 6),
    reference   text,            -- payment reference or credit-note number
    reason      text,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_history_invoice ON invoice_history (invoice_id);

CREATE FUNCTION tally_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('tally.actor', true), ''),
                    session_user::text)
$$;

-- Money in messages: the currency's digits (those of the invoice's total),
-- more when the amount has them.
CREATE FUNCTION tally_money(x numeric, body json) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(x, greatest(scale((body ->> 'total')::numeric),
                             scale(trim_scale(x))))::text
$$;

-- The payment columns of a finalized invoice, the only ones that may change.
CREATE OR REPLACE FUNCTION tally_invoice_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    movable constant text[] := ARRAY['payment_status', 'amount_paid',
                                     'voided_at', 'void_reason'];
    paid numeric;
BEGIN
    IF TG_OP = 'DELETE' OR OLD.body::text IS DISTINCT FROM NEW.body::text
       OR (to_jsonb(OLD) - movable - 'body')
          IS DISTINCT FROM (to_jsonb(NEW) - movable - 'body') THEN
        RAISE EXCEPTION 'invoice % is finalized and cannot change', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.payment_status <> 'open' THEN
        RAISE EXCEPTION 'invoice % is %: it cannot change', OLD.number,
            OLD.payment_status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NEW.payment_status = 'void' THEN
        IF OLD.amount_paid <> 0 OR NEW.amount_paid <> 0 THEN
            RAISE EXCEPTION 'invoice %: % has been paid; only an unpaid '
                'invoice can be voided (issue a credit note)', OLD.number,
                tally_money(OLD.amount_paid, OLD.body)
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF EXISTS (SELECT 1 FROM credit_notes c
                   WHERE c.invoice_id = OLD.invoice_id) THEN
            RAISE EXCEPTION 'invoice %: has credit notes; it cannot be voided',
                OLD.number USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN NEW;
    END IF;
    -- Payments move only through invoice_payments (its trigger).
    SELECT coalesce(sum(amount), 0) INTO paid FROM invoice_payments p
        WHERE p.invoice_id = OLD.invoice_id;
    IF NEW.amount_paid <> paid OR NEW.amount_paid = OLD.amount_paid
       OR NEW.voided_at IS NOT NULL OR NEW.void_reason IS NOT NULL
       OR NEW.payment_status <> (CASE WHEN paid >= OLD.total THEN 'paid'
                                      ELSE 'open' END) THEN
        RAISE EXCEPTION 'invoice %: the amount paid is the sum of its '
            'payments (%); record a payment instead', OLD.number,
            tally_money(paid, OLD.body) USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

-- The credit a voided invoice consumed returns to the balance: each draw
-- that carries its invoice_id is returned to its grant once (the void transition
-- happens once: void -> anything is refused above).
CREATE FUNCTION tally_void_return_credit(p_invoice bigint) RETURNS void
LANGUAGE sql AS $$
    -- Each draw goes back to the grant it came from (0010), so a returned
    -- amount keeps its grant's expiry and spending order.
    SELECT tally_credit_return(p_invoice, 'void')
$$;

CREATE FUNCTION tally_invoice_voided() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally_void_return_credit(NEW.invoice_id);
    INSERT INTO invoice_history (invoice_id, event, reason, actor)
        VALUES (NEW.invoice_id, 'void', NEW.void_reason, tally_actor());
    -- invoice.voided into the webhook outbox (0009), in this transaction.
    PERFORM tally_notify('invoice.voided', NEW.customer_id,
        'invoice.voided:' || NEW.invoice_id,
        json_build_object('invoice', NEW.number, 'customer', NEW.customer_id,
                          'reason', NEW.void_reason,
                          'currency', NEW.body -> 'currency',
                          'total', NEW.body -> 'total'));
    RETURN NULL;
END $$;
CREATE TRIGGER invoices_voided AFTER UPDATE OF payment_status ON invoices
    FOR EACH ROW WHEN (OLD.payment_status <> 'void'
                       AND NEW.payment_status = 'void')
    EXECUTE FUNCTION tally_invoice_voided();

-- A payment: the invoice locked, then checked against what is due.
CREATE FUNCTION tally_payment_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inv invoices%ROWTYPE;
BEGIN
    SELECT * INTO inv FROM invoices WHERE invoice_id = NEW.invoice_id
        FOR UPDATE;
    IF inv.status <> 'finalized' THEN
        RAISE EXCEPTION 'invoice of % for %: a draft cannot be paid',
            inv.customer_id, to_char(inv.period_start, 'YYYY-MM')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF inv.payment_status <> 'open' THEN
        RAISE EXCEPTION 'invoice % is %: no payment can be recorded',
            inv.number, inv.payment_status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF inv.amount_paid + NEW.amount > inv.total THEN
        RAISE EXCEPTION 'invoice %: a payment of % would bring the amount '
            'paid to %, above the amount due % (% outstanding)', inv.number,
            tally_money(NEW.amount, inv.body),
            tally_money(inv.amount_paid + NEW.amount, inv.body),
            tally_money(inv.total, inv.body),
            tally_money(inv.total - inv.amount_paid, inv.body)
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.recorded_by := coalesce(NEW.recorded_by, tally_actor());
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_payments_check BEFORE INSERT ON invoice_payments
    FOR EACH ROW EXECUTE FUNCTION tally_payment_check();

CREATE FUNCTION tally_payment_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    paid numeric;
    due numeric;
BEGIN
    SELECT coalesce(sum(amount), 0) INTO paid FROM invoice_payments
        WHERE invoice_id = NEW.invoice_id;
    UPDATE invoices SET amount_paid = paid,
        payment_status = CASE WHEN paid >= total THEN 'paid' ELSE 'open' END
        WHERE invoice_id = NEW.invoice_id RETURNING total INTO due;
    INSERT INTO invoice_history (invoice_id, event, amount, reference, actor)
        VALUES (NEW.invoice_id, 'payment', NEW.amount, NEW.reference,
                NEW.recorded_by);
    IF paid >= due THEN
        INSERT INTO invoice_history (invoice_id, event, amount, actor)
            VALUES (NEW.invoice_id, 'paid', paid, NEW.recorded_by);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER invoice_payments_apply AFTER INSERT ON invoice_payments
    FOR EACH ROW EXECUTE FUNCTION tally_payment_apply();

CREATE FUNCTION tally_payment_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payments and credit notes are never changed or deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER invoice_payments_frozen BEFORE UPDATE OR DELETE
    ON invoice_payments FOR EACH ROW EXECUTE FUNCTION tally_payment_frozen();

-- A credit note: never more than the line charged less the credit notes
-- before it, never on a draft or a voided invoice; its amount becomes a
-- grant on the customer's credit balance.
CREATE FUNCTION tally_credit_note_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    inv invoices%ROWTYPE;
    charged numeric;
    earlier numeric;
BEGIN
    SELECT * INTO inv FROM invoices WHERE invoice_id = NEW.invoice_id
        FOR UPDATE;
    IF inv.status <> 'finalized' OR inv.payment_status = 'void' THEN
        RAISE EXCEPTION 'invoice %: a credit note needs a finalized invoice '
            'that is not void', coalesce(inv.number, '(draft)')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    charged := (inv.body -> 'lines' -> NEW.line_index ->> 'amount')::numeric;
    SELECT coalesce(sum(amount), 0) INTO earlier FROM credit_notes
        WHERE invoice_id = NEW.invoice_id AND line_index = NEW.line_index;
    IF charged IS NULL OR NEW.amount > charged - earlier THEN
        RAISE EXCEPTION 'invoice % line %: a credit note of % exceeds what '
            'is left to credit (% charged, % credited before)', inv.number,
            NEW.line_key, tally_money(NEW.amount, inv.body),
            tally_money(coalesce(charged, 0), inv.body),
            tally_money(earlier, inv.body)
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.customer_id := inv.customer_id;
    INSERT INTO credit_ledger (customer_id, amount, reason)
        VALUES (inv.customer_id, NEW.amount, 'credit note ' || NEW.number);
    INSERT INTO invoice_history (invoice_id, event, amount, reference,
                                 reason, actor)
        VALUES (NEW.invoice_id, 'credit_note', NEW.amount, NEW.number,
                NEW.reason, NEW.created_by);
    PERFORM tally_notify('credit_note.issued', inv.customer_id,
        'credit_note.issued:' || NEW.number,
        json_build_object('credit_note', NEW.number, 'invoice', inv.number,
                          'customer', inv.customer_id, 'line', NEW.line_key,
                          'amount', tally_money(NEW.amount, inv.body),
                          'currency', inv.body -> 'currency',
                          'reason', NEW.reason));
    RETURN NEW;
END $$;
CREATE TRIGGER credit_notes_check BEFORE INSERT ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION tally_credit_note_check();
CREATE TRIGGER credit_notes_frozen BEFORE UPDATE OR DELETE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION tally_payment_frozen();

CREATE FUNCTION tally_history_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'invoice history is never changed or deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER invoice_history_frozen BEFORE UPDATE OR DELETE
    ON invoice_history FOR EACH ROW EXECUTE FUNCTION tally_history_frozen();
