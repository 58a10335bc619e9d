-- 0013: a currency per customer, and credit held per currency
-- (subscriptions.md, "Currency").
--
-- customers.currency: the ISO 4217 code the customer is billed in; NULL
-- means the catalog's default (the catalog in force, whatever its
-- currency), as every customer was billed before this migration.
ALTER TABLE customers ADD COLUMN currency char(3)
    CHECK (currency IS NULL OR currency ~ '^[A-Z]{3}$');

-- credit_ledger.currency, on grants: the currency the grant is in. NULL
-- means "the customer's currency": grants made before this migration
-- (the catalog files that priced them are not the database's to read, so
-- no backfill) and grants to customers without a currency. An invoice
-- spends only grants in its own currency or NULL ones; a grant in another
-- currency stays on the balance, untouched, until the customer is billed
-- in that currency again. Draws name their grant and carry no currency.
ALTER TABLE credit_ledger ADD COLUMN currency char(3)
    CHECK (currency IS NULL OR (currency ~ '^[A-Z]{3}$'
                                AND grant_id IS NULL));

-- A credit note's grant (inserted by 0011's credit_notes trigger) is in
-- the customer's currency, as every other grant: imports and the API say
-- so themselves, this fills it for the credit note.
CREATE FUNCTION tally_credit_note_currency() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.currency IS NULL AND NEW.grant_id IS NULL
       AND NEW.reason LIKE 'credit note %' THEN
        SELECT currency INTO NEW.currency FROM customers
         WHERE customer_id = NEW.customer_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER credit_ledger_currency BEFORE INSERT ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION tally_credit_note_currency();
