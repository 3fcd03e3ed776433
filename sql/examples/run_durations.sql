-- How long runs take, per table: waiting for the session, loading, in total
-- (milliseconds), and the server's own execution time.
SELECT table_name,
       count(*) AS runs,
       round(avg(wait_ms)) AS avg_wait_ms,
       round(avg(load_ms)) AS avg_load_ms,
       round(avg(total_ms)) AS avg_total_ms,
       max(total_ms) AS max_total_ms,
       round(avg(execution_ms)) AS avg_execution_ms,
       sum(rows_loaded) AS rows_loaded,
       round(sum(rows_loaded) * 1000.0 / nullif(sum(load_ms), 0)) AS rows_per_s
FROM _wf_runs
WHERE status IN ('loaded', 'partial')
GROUP BY table_name
ORDER BY table_name;

-- The ten slowest runs.
SELECT run_id, table_name, session_id, started_at, total_ms, wait_ms, load_ms, rows_loaded
FROM _wf_runs
WHERE total_ms IS NOT NULL
ORDER BY total_ms DESC
LIMIT 10;
