-- Runs that did not load, newest first, with the cards that reported an
-- error. `wf2sqlite attach <session_id>` continues a run whose session is
-- still there.
SELECT r.run_id, r.status, r.started_at, r.table_name, r.session_id, r.workflow_id,
       r.error,
       c.card_id, c.card_type, c.error_message AS card_error
FROM _wf_runs AS r
LEFT JOIN _wf_cards AS c ON c.run_id = r.run_id AND c.error_message IS NOT NULL
WHERE r.status NOT IN ('loaded', 'partial', 'running')
ORDER BY r.run_id DESC, c.position;

-- Runs still marked running: in progress, or left by a killed process
-- (`wf2sqlite resume` picks up those whose process is gone).
SELECT run_id, session_id, table_name, started_at, pid
FROM _wf_runs WHERE status = 'running' ORDER BY run_id;

-- Partial runs: fewer rows arrived than the result reported.
SELECT run_id, table_name, rows_loaded, rows_reported, range_start, range_end
FROM _wf_runs WHERE status = 'partial' ORDER BY run_id DESC;
