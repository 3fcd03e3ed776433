-- The rows of the newest loaded (or partial) run of the table `sales`.
-- Every data table has a view <table>_latest doing exactly this:
SELECT * FROM sales_latest;

-- The same, spelled out, with the run it came from:
SELECT r.run_id, r.session_id, r.finished_at, s.*
FROM sales AS s
JOIN _wf_runs AS r ON r.run_id = s._run_id
WHERE s._run_id = (SELECT max(run_id) FROM _wf_runs
                   WHERE table_name = 'sales' COLLATE NOCASE
                     AND status IN ('loaded', 'partial'))
ORDER BY s._row;
