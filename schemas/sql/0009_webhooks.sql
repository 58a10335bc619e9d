-- 0009: signed webhooks through a transactional outbox (controls.md).
--
-- Whatever happens (an invoice finalized, an alert crossed) is written by
-- tally_notify inside the transaction that made it happen, so it exists
-- exactly when its cause committed; nothing is sent from inside a
-- transaction. `tally serve` instances then claim due deliveries with a
-- lease (FOR UPDATE SKIP LOCKED), POST them and record the outcome.

CREATE TABLE webhook_endpoints (
    endpoint_id  text PRIMARY KEY,                -- we_<16 hex>
    url          text NOT NULL,                   -- http or https
    events       text[] NOT NULL,                 -- event types, or {*}
    secret       text NOT NULL,                   -- whsec_<64 hex>: signs, so kept
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz,                     -- removed: kept for the log
    CHECK (cardinality(events) > 0)
);

-- One row per notification, under the one id every delivery and retry of
-- it carries. dedupe_key makes a cause write it once however often it is
-- detected ("alert.triggered:<customer>:<alert id>:<period>").
CREATE TABLE webhook_outbox (
    notification_id  text PRIMARY KEY,            -- evt_<32 hex>
    type             text NOT NULL,
    customer_id      text,
    dedupe_key       text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    data             json NOT NULL                -- as written: members in order
);
CREATE INDEX webhook_outbox_customer ON webhook_outbox (customer_id, created_at);

-- One row per notification and endpoint subscribed to its type when it was
-- written. A sender owns a row while lease_until lies ahead; a killed
-- sender's lease runs out and another takes the row, same id, same body.
CREATE TABLE webhook_deliveries (
    delivery_id      bigserial PRIMARY KEY,
    notification_id  text NOT NULL REFERENCES webhook_outbox,
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    window_start     timestamptz NOT NULL DEFAULT now(), -- retries end max_age after
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status      int,                         -- HTTP status, NULL: none came
    last_error       text,
    lease_owner      text,
    lease_until      timestamptz,
    finished_at      timestamptz,                 -- delivered or given up
    UNIQUE (notification_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint
    ON webhook_deliveries (endpoint_id, delivery_id);

-- Emit a notification from inside the caller's transaction: the outbox row
-- and one delivery per live endpoint subscribed to 'p_type' ('*' is every
-- type). A dedupe key already written changes nothing and returns NULL;
-- otherwise the new notification's id. The senders LISTEN on
-- tally_webhooks and wake at the commit.
CREATE FUNCTION tally_notify(p_type text, p_customer text, p_dedupe text,
                             p_data json) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
BEGIN
    INSERT INTO webhook_outbox (notification_id, type, customer_id,
                                dedupe_key, data)
    VALUES ('evt_' || replace(gen_random_uuid()::text, '-', ''), p_type,
            p_customer, p_dedupe, p_data)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING notification_id INTO v_id;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (notification_id, endpoint_id)
    SELECT v_id, endpoint_id FROM webhook_endpoints
    WHERE disabled_at IS NULL AND (p_type = ANY (events) OR '*' = ANY (events));
    IF FOUND THEN
        PERFORM pg_notify('tally_webhooks', '');
    END IF;
    RETURN v_id;
END $$;
