-- 0007: seat events by customer. A draft reads a customer's seat events
-- from before its period too (a device activated earlier is active in it),
-- and with catalogs whose other meters all read rollups that is all it
-- reads from events: without this index, each draft scanned the customer's
-- events in every month (7 ms on the API benchmark's data, the largest
-- part of `GET /v1/customers/{id}/usage`). Seat events are few, so the
-- index costs the meter almost nothing.
CREATE INDEX events_seats ON events (customer_id, event_time) WHERE type = 4;
