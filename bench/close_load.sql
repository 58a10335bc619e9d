-- Data for bench/bench_close.sh: customers and one month of daily usage
-- rollups as the meter would have written them, generated server side.
--
--   psql -v customers=N -v events=E -v active_days=D -v period_start=DATE
--        -f bench/close_load.sql
--
-- Shape: every customer is active on D of the month's days, spread evenly
-- from a per-customer offset, with the 5 attribute sets of the worked
-- example's catalog on each active day (so up to N * D * 5 rollup rows):
--   inference.tokens     cloud  autoregressive  40% of its events
--   inference.tokens     cloud  diffusion       20%
--   inference.tokens     device autoregressive  20%
--   inference.iterations cloud  diffusion       10%
--   inference.matrix_ops cloud                  10%
-- Customers' event counts range from 0.25x to 5.5x the mean (the share of
-- the first x of them, by a shuffled rank, is F(x) = (x + 3 x^7) / 4), split
-- evenly over the active days; event_count sums to exactly E. A token event
-- has 2,000-6,000 input and 500-2,500 output tokens, so the larger customers
-- pass the plan's included tokens and its first tier. Rows that would count no event are
-- left out, as the meter never writes them. 10% of customers hold a
-- prepaid credit, 10% one seat activation (half before the period), 25% a
-- tax rate, 5% an explicit cohort placement.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET TimeZone = 'UTC';

\o /dev/null
SELECT tally_ensure_month(:'period_start'::date);
SELECT tally_ensure_month(:'period_start'::date - 1);
\o

CREATE TEMP TABLE bench_cust AS
WITH c AS (
    SELECT i, 'cust_' || lpad(i::text, greatest(6, length(:customers::text)),
                              '0') AS id
    FROM generate_series(1, :customers) i
), r AS (
    SELECT i, id, (row_number() OVER (ORDER BY md5(id)) - 1)::numeric AS rk
    FROM c
)
SELECT i, id,
       -- F(rank + 1) - F(rank), F(r) = floor(E (r N^6 + 3 r^7) / (4 N^7))
       (div(:events::numeric * ((rk + 1) * :customers::numeric ^ 6
                               + 3 * (rk + 1) ^ 7),
            4 * :customers::numeric ^ 7)
        - div(:events::numeric * (rk * :customers::numeric ^ 6 + 3 * rk ^ 7),
              4 * :customers::numeric ^ 7))::bigint AS ec,
       (ARRAY['mercury-coder-small', 'mercury-coder-mini',
              'mercury-large'])[1 + i % 3] AS model,
       (i * 7) % 31 AS day_off
FROM r ORDER BY id;

INSERT INTO customers (customer_id, name, plan, sub_start, tax_rate, cohorts)
SELECT id, 'Customer ' || i, 'pro',
       least(date '2026-01-01', :'period_start'::date - 1),
       CASE WHEN i % 4 = 0 THEN 0.19 ELSE 0 END,
       CASE WHEN i % 20 = 0 THEN '{"output-price-q4": "control"}'
            ELSE '{}' END::jsonb
FROM bench_cust ORDER BY id;

INSERT INTO credit_ledger (customer_id, amount, reason)
SELECT id, 50, 'import' FROM bench_cust WHERE i % 10 = 7 ORDER BY id;

-- The rollups. 'k' is the k-th active day, 's' the attribute set with its
-- share [lo, hi) of the customer's day, in percent.
INSERT INTO usage_rollups (customer_id, day, type, attrs_hash, model,
    deployment, decoding, dims, event_count, input_tokens, output_tokens,
    cached_input_tokens, iterations, tokens, mac)
SELECT c.id, :'period_start'::date + (c.day_off + k * m.days / :active_days)
                                     % m.days,
       s.type, decode(md5(a.model || '|' || s.dep || '|' || s.decoding), 'hex'),
       a.model, s.dep, s.decoding, '{}', n.ev,
       CASE WHEN s.type = 1 THEN n.ev * (2000 + 4 * v.v) ELSE 0 END,
       CASE WHEN s.type = 1 THEN n.ev * (500 + 2 * v.v) ELSE 0 END,
       CASE WHEN s.type = 1 THEN n.ev * v.v ELSE 0 END,
       CASE WHEN s.type = 2 THEN n.ev * (16 + v.v % 112) ELSE 0 END,
       CASE WHEN s.type = 2 THEN n.ev * (200 + v.v) ELSE 0 END,
       CASE WHEN s.type = 3 THEN n.ev * (100000000000 + v.v * 10000000000::numeric)
            ELSE 0 END
FROM bench_cust c
CROSS JOIN (SELECT ((:'period_start'::date + interval '1 month')::date
                    - :'period_start'::date) AS days) m
CROSS JOIN generate_series(0, :active_days - 1) k
CROSS JOIN (VALUES (1::int2, 1::int2, 'autoregressive', 0, 40),
                   (1, 1, 'diffusion', 40, 60),
                   (1, 2, 'autoregressive', 60, 80),
                   (2, 1, 'diffusion', 80, 90),
                   (3, 1, '', 90, 100)) s(type, dep, decoding, lo, hi)
CROSS JOIN LATERAL (SELECT CASE WHEN s.dep = 2 THEN 'edge-nano'
                                ELSE c.model END AS model) a
CROSS JOIN LATERAL (SELECT c.ec * (k * 100 + s.hi) / (:active_days * 100)
                           - c.ec * (k * 100 + s.lo) / (:active_days * 100)
                           AS ev) n
CROSS JOIN LATERAL (SELECT ((c.i * 7919 + k * 104729 + s.lo) % 1000)::bigint
                           AS v) v
WHERE n.ev > 0;

-- Seat activations: read from events by the close (seats are not rolled up).
INSERT INTO events (event_time, customer_id, type, source, event_id,
    device_id, seat_action, model_class, content_hash)
SELECT t, id, 4, 'device/dev-' || i || '-1', 'seat-' || i || '-1',
       'dev-' || i || '-1', 1,
       CASE WHEN i % 20 = 3 THEN 'small' ELSE 'medium' END,
       sha256(convert_to(id || '/seat-' || i || '-1', 'UTF8'))
FROM bench_cust
CROSS JOIN LATERAL (SELECT CASE WHEN i % 20 = 3
                                THEN :'period_start'::timestamptz - interval '10 days'
                                ELSE :'period_start'::timestamptz + interval '10 days'
                           END AS t) t
WHERE i % 10 = 3;
