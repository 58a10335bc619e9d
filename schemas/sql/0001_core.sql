-- 0001: the base schema. Events and rollups are range-partitioned by month
-- (created on demand by tally_ensure_month); the dedup key lives in its own
-- hash-partitioned table because a unique index on a partitioned table must
-- contain the partition key, and dedup has no time window (docs/formats.md).

CREATE TABLE customers (
    customer_id  text PRIMARY KEY,
    name         text NOT NULL,
    plan         text NOT NULL,
    sub_start    date NOT NULL,
    sub_end      date,
    tax_rate     numeric(12, 6) NOT NULL DEFAULT 0 CHECK (tax_rate >= 0),
    cohorts      jsonb NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (sub_end IS NULL OR sub_end >= sub_start)
);

-- Prepaid credit as a ledger: grants are positive, applications negative;
-- the balance carried between periods is the sum.
CREATE TABLE credit_ledger (
    entry_id     bigserial PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES customers,
    amount       numeric(24, 6) NOT NULL,
    reason       text NOT NULL,
    invoice_id   bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_customer ON credit_ledger (customer_id);

-- Every catalog file ever loaded, so an old invoice can be re-derived.
CREATE TABLE catalog_versions (
    catalog_version_id bigserial PRIMARY KEY,
    catalog        text NOT NULL,
    version        text NOT NULL,
    effective_from date NOT NULL,
    sha256         bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    body           text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_versions_lookup
    ON catalog_versions (catalog, effective_from);

-- Dedup: one row per (subject, source, id) for all time, with the content
-- hash that tells a true duplicate from a conflicting one.
CREATE TABLE event_keys (
    customer_id  text NOT NULL,
    source       text NOT NULL,
    event_id     text NOT NULL,
    content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
    event_time   timestamptz NOT NULL,
    PRIMARY KEY (customer_id, source, event_id)
) PARTITION BY HASH (customer_id);
DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE event_keys_p%s PARTITION OF event_keys '
                       'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
    END LOOP;
END $$;

-- Stored events: narrow typed columns, one set per event type (the others
-- NULL, which costs a bit in the null bitmap).
-- type: 1 inference.tokens, 2 inference.iterations, 3 inference.matrix_ops,
--       4 device.seat; deployment: 1 cloud, 2 device;
-- seat_action: 1 activate, 2 deactivate, 3 heartbeat.
CREATE TABLE events (
    event_time          timestamptz NOT NULL,
    customer_id         text NOT NULL,
    type                smallint NOT NULL CHECK (type BETWEEN 1 AND 4),
    source              text NOT NULL,
    event_id            text NOT NULL,
    model               text,
    deployment          smallint CHECK (deployment IN (1, 2)),
    decoding            text,
    input_tokens        bigint CHECK (input_tokens >= 0),
    output_tokens       bigint CHECK (output_tokens >= 0),
    cached_input_tokens bigint CHECK (cached_input_tokens >= 0),
    iterations          bigint CHECK (iterations >= 1),
    tokens              bigint CHECK (tokens >= 0),
    mac                 bigint CHECK (mac >= 0),
    device_id           text,
    seat_action         smallint CHECK (seat_action BETWEEN 1 AND 3),
    model_class         text,
    dims                jsonb,
    content_hash        bytea NOT NULL,
    kafka_topic         text,
    kafka_partition     integer,
    kafka_offset        bigint,
    ingested_at         timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (event_time);
CREATE INDEX events_customer_time ON events (customer_id, event_time);

-- Daily usage per customer and billable attributes; invoicing reads these,
-- never the events. Sums are numeric: a month of mac counts passes 2^64.
CREATE TABLE usage_rollups (
    customer_id         text NOT NULL,
    day                 date NOT NULL,
    type                smallint NOT NULL,
    attrs_hash          bytea NOT NULL,
    model               text NOT NULL DEFAULT '',
    deployment          smallint NOT NULL DEFAULT 0,
    decoding            text NOT NULL DEFAULT '',
    dims                jsonb NOT NULL DEFAULT '{}',
    event_count         bigint NOT NULL DEFAULT 0,
    input_tokens        numeric(39, 0) NOT NULL DEFAULT 0,
    output_tokens       numeric(39, 0) NOT NULL DEFAULT 0,
    cached_input_tokens numeric(39, 0) NOT NULL DEFAULT 0,
    iterations          numeric(39, 0) NOT NULL DEFAULT 0,
    tokens              numeric(39, 0) NOT NULL DEFAULT 0,
    mac                 numeric(39, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, day, type, attrs_hash)
) PARTITION BY RANGE (day);

-- Whatever could not be stored, byte for byte, with where it came from.
-- batch_index numbers the elements of a CBOR batch (0 for a whole
-- message); batch_count is how many elements the row stands for.
CREATE TABLE dead_letters (
    dead_letter_id  bigserial PRIMARY KEY,
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    batch_index     integer NOT NULL DEFAULT 0,
    batch_count     integer NOT NULL DEFAULT 1 CHECK (batch_count >= 1),
    reason          text NOT NULL,
    raw             bytea NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kafka_topic, kafka_partition, kafka_offset, batch_index)
);

-- The next offset to consume per partition, written in the same transaction
-- as the events it covers: this, not Kafka's commit, makes ingest exact.
CREATE TABLE consumer_offsets (
    consumer_group  text NOT NULL,
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset     bigint NOT NULL CHECK (next_offset >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, kafka_topic, kafka_partition)
);

-- What ingest did with everything it consumed, per partition, so that
-- stored + duplicates + dead letters = consumed can be checked any time.
CREATE TABLE ingest_counts (
    consumer_group  text NOT NULL,
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    consumed        bigint NOT NULL DEFAULT 0,
    stored          bigint NOT NULL DEFAULT 0,
    duplicates      bigint NOT NULL DEFAULT 0,
    dead_lettered   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer_group, kafka_topic, kafka_partition),
    CHECK (consumed = stored + duplicates + dead_lettered)
);

CREATE TABLE invoices (
    invoice_id         bigserial PRIMARY KEY,
    customer_id        text NOT NULL REFERENCES customers,
    period_start       date NOT NULL,
    status             text NOT NULL CHECK (status IN ('draft', 'finalized')),
    number             text UNIQUE,
    currency           char(3) NOT NULL,
    catalog_version_id bigint REFERENCES catalog_versions,
    total              numeric(24, 6) NOT NULL,
    body               jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    finalized_at       timestamptz,
    UNIQUE (customer_id, period_start),
    CHECK ((status = 'finalized') = (number IS NOT NULL))
);

-- Gap-free invoice numbers: one counter row per issuer and year, advanced
-- inside the finalizing transaction.
CREATE TABLE invoice_numbers (
    issuer   text NOT NULL,
    year     integer NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (issuer, year)
);

-- Create the month partitions of events and usage_rollups that hold 'day'.
-- Idempotent and safe to call from several services at once.
CREATE FUNCTION tally_ensure_month(p_day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_first date := date_trunc('month', p_day)::date;
    v_next  date := (date_trunc('month', p_day) + interval '1 month')::date;
    v_tag   text := to_char(v_first, 'YYYY_MM');
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tally_ensure_month'));
    -- Bounds in UTC whatever the session's TimeZone: periods are UTC months.
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF events '
                   'FOR VALUES FROM (%L) TO (%L)', 'events_' || v_tag,
                   v_first::text || ' 00:00:00+00',
                   v_next::text || ' 00:00:00+00');
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF usage_rollups '
                   'FOR VALUES FROM (%L) TO (%L)', 'usage_rollups_' || v_tag,
                   v_first, v_next);
END $$;
