-- open_exceptions
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open) AS open_exceptions
FROM xf GROUP BY grp;

-- paused_exceptions
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (status = 'paused') AS paused_exceptions
FROM xf GROUP BY grp;

-- aging_lt_4h
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND age_h < 4) AS aging_lt_4h
FROM xf GROUP BY grp;

-- aging_4_24h
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND age_h >= 4 AND age_h < 24) AS aging_4_24h
FROM xf GROUP BY grp;

-- aging_1_3d
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND age_h >= 24 AND age_h < 72) AS aging_1_3d
FROM xf GROUP BY grp;

-- aging_gt_3d
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND age_h >= 72) AS aging_gt_3d
FROM xf GROUP BY grp;

-- breached_open
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND is_breached) AS breached_open
FROM xf GROUP BY grp;

-- at_risk_open
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_open AND is_at_risk) AS at_risk_open
FROM xf GROUP BY grp;

-- revenue_at_risk
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
),
ro AS (
    SELECT grp, order_id,
           arg_max(order_value_reporting, [epoch_us(opened_at), opened_seq])::DECIMAL(18, 4)
               AS value,
           bool_or(is_breached) AS any_breached
    FROM xf WHERE is_open GROUP BY grp, order_id
)
SELECT grp,
    coalesce(sum(value), 0)::DOUBLE AS revenue_at_risk
FROM ro GROUP BY grp;

-- breached_revenue_at_risk
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
),
ro AS (
    SELECT grp, order_id,
           arg_max(order_value_reporting, [epoch_us(opened_at), opened_seq])::DECIMAL(18, 4)
               AS value,
           bool_or(is_breached) AS any_breached
    FROM xf WHERE is_open GROUP BY grp, order_id
)
SELECT grp,
    coalesce(sum(value) FILTER (any_breached), 0)::DOUBLE AS breached_revenue_at_risk
FROM ro GROUP BY grp;

-- opened
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (opened_at >= t_from AND opened_at < t) AS opened
FROM xf GROUP BY grp;

-- resolved
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (is_res) AS resolved
FROM xf GROUP BY grp;

-- cancelled
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    count(*) FILTER (status = 'cancelled' AND cancelled_at >= t_from AND cancelled_at < t) AS cancelled
FROM xf GROUP BY grp;

-- sla_adherence
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(CASE WHEN active_s <= target_s THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS sla_adherence
FROM xf GROUP BY grp;

-- mttr_hours
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(resolution_us) FILTER (is_res) / 3600000000.0 AS mttr_hours
FROM xf GROUP BY grp;

-- p50_resolution_hours
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    quantile_cont(resolution_h, 0.5) FILTER (is_res) AS p50_resolution_hours
FROM xf GROUP BY grp;

-- p90_resolution_hours
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    quantile_cont(resolution_h, 0.9) FILTER (is_res) AS p90_resolution_hours
FROM xf GROUP BY grp;

-- avg_manual_touches
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(manual_touches) FILTER (is_res) AS avg_manual_touches
FROM xf GROUP BY grp;

-- first_touch_resolution_rate
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(CASE WHEN manual_touches <= 1 AND reopen_count = 0 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS first_touch_resolution_rate
FROM xf GROUP BY grp;

-- auto_resolution_rate
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(CASE WHEN manual_touches = 0 AND resolved_by_kind = 'system' THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS auto_resolution_rate
FROM xf GROUP BY grp;

-- reopen_rate
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(CASE WHEN reopen_count >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS reopen_rate
FROM xf GROUP BY grp;

-- escalation_rate
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    avg(CASE WHEN escalation_level >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS escalation_rate
FROM xf GROUP BY grp;

-- sla_overrun_hours
WITH v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (coalesce(clk.cum_us, epoch_us(v.t)) - coalesce(v.working_us_at_start, epoch_us(v.valid_from))) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar
),
xf AS (
    SELECT *, 'all' AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE TRUE
)
SELECT grp,
    coalesce(sum((greatest(0.0, active_s - target_s))::DECIMAL(18, 6)) FILTER (is_res OR is_open), 0)::DOUBLE / 3600.0 AS sla_overrun_hours
FROM xf GROUP BY grp;

-- otif
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
    avg(CASE WHEN delivered_at <= promised_delivery_at AND in_full THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS otif
FROM of GROUP BY grp;

-- on_time_rate
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
    avg(CASE WHEN delivered_at <= promised_delivery_at THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS on_time_rate
FROM of GROUP BY grp;

-- in_full_rate
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
    avg(CASE WHEN in_full THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS in_full_rate
FROM of GROUP BY grp;

-- exception_rate
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
    avg(CASE WHEN has_exception THEN 1.0 ELSE 0.0 END) FILTER (is_rel) AS exception_rate
FROM of GROUP BY grp;

-- accepted_events
SELECT count(*) AS accepted_events FROM exception_events;

-- duplicate_events
SELECT count(*) AS duplicate_events FROM duplicate_events;

-- rejected_events
SELECT count(*) AS rejected_events FROM rejected_events;

-- pending_events
SELECT count(*) AS pending_events FROM pending_events;
