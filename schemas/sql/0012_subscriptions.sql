-- 0012: a customer's subscription history (subscriptions.md): each plan
-- over a half-open range of days [sub_start, sub_end), sub_end NULL for the
-- current one. customers.plan, sub_start and sub_end stay as the summary
-- (the current plan, the first start, the last end) older readers use.

CREATE TABLE subscriptions (
    customer_id text NOT NULL REFERENCES customers,
    plan        text NOT NULL,
    sub_start   date NOT NULL,
    sub_end     date,
    PRIMARY KEY (customer_id, sub_start),
    CHECK (sub_end IS NULL OR sub_end > sub_start)
);

INSERT INTO subscriptions (customer_id, plan, sub_start, sub_end)
    SELECT customer_id, plan, sub_start, sub_end FROM customers;
