WITH settled AS (
    -- orders with no event after T: their latest state is their state as of T
    SELECT order_id, site, lane, coalesce(carrier, ship_carrier, '(none)') AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM order_state
    WHERE last_event_at <= $t AND released_at IS NOT NULL
      AND ((released_at >= $from AND released_at < $t)
           OR (delivered_at >= $from AND delivered_at < $t))
),
straddling AS MATERIALIZED (
    -- orders released by T with events after it
    SELECT *, (coalesce(release_at > $t, false)
    OR (coalesce(delivered_at > $t, false) AND coalesce(first_delivered_at <= $t, true))
    OR (coalesce(ship_at > $t, false) AND coalesce(first_ship_at <= $t, true))) AS needs_replay
    FROM order_state WHERE last_event_at > $t AND released_at <= $t
),
direct AS (
    -- ... whose row, read with T, is their state as of T
    SELECT order_id, site, lane,
           coalesce(carrier, CASE WHEN ship_at <= $t THEN ship_carrier END, '(none)')
               AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           CASE WHEN delivered_at <= $t THEN delivered_at END AS delivered_at,
           CASE WHEN delivered_at <= $t THEN in_full END AS in_full
    FROM straddling WHERE NOT needs_replay
),
oe AS MATERIALIZED (
    -- ... and the others, replayed from their events up to T
    SELECT * FROM order_events WHERE occurred_at <= $t AND order_id IN (
        SELECT order_id FROM straddling WHERE needs_replay)
),
replayed AS (
    SELECT order_id, site, lane, coalesce(carrier, ship_carrier, '(none)') AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM (
    SELECT order_id, min(first_event_at) AS first_event_at,
        max(last_event_at) AS last_event_at, min(released_at) AS released_at,
        arg_max_null(release_at, rk) FILTER (rk IS NOT NULL) AS release_at,
arg_max_null(release_seq, rk) FILTER (rk IS NOT NULL) AS release_seq,
arg_max_null(site, rk) FILTER (rk IS NOT NULL) AS site,
arg_max_null(lane, rk) FILTER (rk IS NOT NULL) AS lane,
arg_max_null(carrier, rk) FILTER (rk IS NOT NULL) AS carrier,
arg_max_null(customer_tier, rk) FILTER (rk IS NOT NULL) AS customer_tier,
arg_max_null(source_system, rk) FILTER (rk IS NOT NULL) AS source_system,
arg_max_null(promised_delivery_at, rk) FILTER (rk IS NOT NULL) AS promised_delivery_at,
        arg_max_null(delivered_at, dk) FILTER (dk IS NOT NULL) AS delivered_at,
arg_max_null(delivery_seq, dk) FILTER (dk IS NOT NULL) AS delivery_seq,
arg_max_null(in_full, dk) FILTER (dk IS NOT NULL) AS in_full,
        arg_max_null(ship_at, sk) FILTER (sk IS NOT NULL) AS ship_at,
arg_max_null(ship_seq, sk) FILTER (sk IS NOT NULL) AS ship_seq,
arg_max_null(ship_carrier, sk) FILTER (sk IS NOT NULL) AS ship_carrier,
        min(first_delivered_at) AS first_delivered_at, min(first_ship_at) AS first_ship_at
    FROM (
        SELECT *, epoch_us(release_at)::HUGEINT * 9223372036854775808 + release_seq AS rk,
               epoch_us(delivered_at)::HUGEINT * 9223372036854775808 + delivery_seq AS dk,
               epoch_us(ship_at)::HUGEINT * 9223372036854775808 + ship_seq AS sk
        FROM (
    SELECT order_id, occurred_at AS first_event_at, occurred_at AS last_event_at,
        CASE WHEN r THEN occurred_at END AS released_at,
        CASE WHEN r THEN occurred_at END AS release_at,
        CASE WHEN r THEN arrival_seq END AS release_seq,
CASE WHEN r THEN site END AS site,
CASE WHEN r THEN lane END AS lane,
CASE WHEN r THEN carrier END AS carrier,
CASE WHEN r THEN customer_tier END AS customer_tier,
CASE WHEN r THEN source_system END AS source_system,
CASE WHEN r THEN promised_delivery_at END AS promised_delivery_at,
        CASE WHEN d THEN occurred_at END AS delivered_at,
        CASE WHEN d THEN arrival_seq END AS delivery_seq,
        CASE WHEN d THEN in_full END AS in_full,
        CASE WHEN s THEN occurred_at END AS ship_at,
        CASE WHEN s THEN arrival_seq END AS ship_seq,
        CASE WHEN s THEN carrier END AS ship_carrier,
        CASE WHEN d THEN occurred_at END AS first_delivered_at,
        CASE WHEN s THEN occurred_at END AS first_ship_at
    FROM (
        SELECT *, event_type = 'order.released' AS r, event_type = 'order.delivered' AS d,
               event_type = 'order.shipped' AND carrier IS NOT NULL AS s
        FROM oe
    ))
    ) GROUP BY order_id) WHERE released_at IS NOT NULL
),
o AS (
    SELECT * FROM settled UNION ALL BY NAME SELECT * FROM direct
    UNION ALL BY NAME SELECT * FROM replayed
),
of AS (
    -- only orders delivered or released in [from, T) count (and make groups)
    SELECT * FROM (
        SELECT *, 'all' AS grp,
               delivered_at >= $from AND delivered_at < $t AS is_dlv,
               released_at >= $from AND released_at < $t AS is_rel,
               order_id IN (SELECT order_id FROM exceptions WHERE opened_at <= $t)
                   AS has_exception
        FROM o WHERE TRUE
    ) WHERE is_dlv OR is_rel
)
SELECT grp,
    avg(CASE WHEN delivered_at <= promised_delivery_at AND in_full THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS otif,
    avg(CASE WHEN delivered_at <= promised_delivery_at THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS on_time_rate,
    avg(CASE WHEN in_full THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS in_full_rate,
    avg(CASE WHEN has_exception THEN 1.0 ELSE 0.0 END) FILTER (is_rel) AS exception_rate
FROM of GROUP BY grp
