WITH grid AS (
    SELECT unnest($ts::TIMESTAMPTZ[]) AS t, unnest($froms::TIMESTAMPTZ[]) AS t_from
),
-- in force at some grid time: the range joins below only see these versions
-- ($t_first / $t_last: the first and last grid times; $from_first: the first bucket's start)
gv AS (
    SELECT * FROM exception_versions
    WHERE valid_from <= $t_last::TIMESTAMPTZ
      AND coalesce(valid_to, 'infinity'::TIMESTAMPTZ) > $t_first::TIMESTAMPTZ
),
vo AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status IN ('open', 'paused')
),
vr AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.resolved_at >= g.t_from AND ev.resolved_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'resolved' AND ev.resolved_at >= $from_first::TIMESTAMPTZ
      AND ev.resolved_at < $t_last::TIMESTAMPTZ
),
vc AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.cancelled_at >= g.t_from AND ev.cancelled_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'cancelled' AND ev.cancelled_at >= $from_first::TIMESTAMPTZ
      AND ev.cancelled_at < $t_last::TIMESTAMPTZ
),
op AS MATERIALIZED (
    SELECT g.t, g.t_from, e.exception_id FROM grid g JOIN exceptions e
      ON e.opened_at >= g.t_from AND e.opened_at < g.t
),
-- op is materialised so the planner joins the (few) exceptions opened in a bucket to
-- their versions by id, instead of range-joining the grid with every version first
vn AS (
    SELECT op.t, op.t_from, ev.* FROM op JOIN exception_versions ev
      ON ev.exception_id = op.exception_id
     AND ev.valid_from <= op.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > op.t
    WHERE NOT (ev.status IN ('open', 'paused')
               OR (ev.status = 'resolved' AND ev.resolved_at >= op.t_from
                   AND ev.resolved_at < op.t)
               OR (ev.status = 'cancelled' AND ev.cancelled_at >= op.t_from
                   AND ev.cancelled_at < op.t))
),
v AS (
    SELECT * FROM vo UNION ALL SELECT * FROM vr UNION ALL SELECT * FROM vc
    UNION ALL SELECT * FROM vn
)
,
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
xf AS MATERIALIZED (
    SELECT *, t AS grp,
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
),
k AS (SELECT grp,
    count(*) FILTER (is_open) AS open_exceptions,
    count(*) FILTER (status = 'paused') AS paused_exceptions,
    count(*) FILTER (is_open AND age_h < 4) AS aging_lt_4h,
    count(*) FILTER (is_open AND age_h >= 4 AND age_h < 24) AS aging_4_24h,
    count(*) FILTER (is_open AND age_h >= 24 AND age_h < 72) AS aging_1_3d,
    count(*) FILTER (is_open AND age_h >= 72) AS aging_gt_3d,
    count(*) FILTER (is_open AND is_breached) AS breached_open,
    count(*) FILTER (is_open AND is_at_risk) AS at_risk_open,
    count(*) FILTER (opened_at >= t_from AND opened_at < t) AS opened,
    count(*) FILTER (is_res) AS resolved,
    count(*) FILTER (status = 'cancelled' AND cancelled_at >= t_from AND cancelled_at < t) AS cancelled,
    avg(CASE WHEN active_s <= target_s THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS sla_adherence,
    avg(resolution_us) FILTER (is_res) / 3600000000.0 AS mttr_hours,
    quantile_cont(resolution_h, 0.5) FILTER (is_res) AS p50_resolution_hours,
    quantile_cont(resolution_h, 0.9) FILTER (is_res) AS p90_resolution_hours,
    avg(manual_touches) FILTER (is_res) AS avg_manual_touches,
    avg(CASE WHEN manual_touches <= 1 AND reopen_count = 0 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS first_touch_resolution_rate,
    avg(CASE WHEN manual_touches = 0 AND resolved_by_kind = 'system' THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS auto_resolution_rate,
    avg(CASE WHEN reopen_count >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS reopen_rate,
    avg(CASE WHEN escalation_level >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS escalation_rate,
    coalesce(sum((greatest(0.0, active_s - target_s))::DECIMAL(18, 6)) FILTER (is_res OR is_open), 0)::DOUBLE / 3600.0 AS sla_overrun_hours
FROM xf GROUP BY grp),
r AS (SELECT grp,
    coalesce(sum(value), 0)::DOUBLE AS revenue_at_risk,
    coalesce(sum(value) FILTER (any_breached), 0)::DOUBLE AS breached_revenue_at_risk
FROM ro GROUP BY grp)
SELECT k.*, r.revenue_at_risk, r.breached_revenue_at_risk FROM k LEFT JOIN r ON k.grp IS NOT DISTINCT FROM r.grp
