-- `wf2sqlite diff --table sales` does this comparison for you (and with
-- --key region,product reports changed values column by column, duplicate
-- keys and columns only one run has; --json / --csv give every difference):
-- see docs/history.md. This file shows the same idea in plain SQL.
--
-- Compare the two newest loaded runs of the table `sales` (append mode keeps
-- every run's rows, told apart by _run_id). The data columns named here are
-- those of the demo workflow (wf2sqlite run sales_by_region --table sales,
-- against compass-emu and examples/demo-scenario.json): put your table's.

-- Rows per run, newest first.
SELECT _run_id, count(*) AS rows
FROM sales GROUP BY _run_id ORDER BY _run_id DESC;

-- Rows of the newest run that the run before it did not have, and the
-- reverse (compare the data columns, not _run_id and _row).
WITH runs AS (
  SELECT run_id FROM _wf_runs
  WHERE table_name = 'sales' COLLATE NOCASE AND status IN ('loaded', 'partial')
  ORDER BY run_id DESC LIMIT 2
),
newest AS (SELECT max(run_id) AS id FROM runs),
previous AS (SELECT min(run_id) AS id FROM runs)
SELECT 'added' AS change, * FROM (
  SELECT region, product, units, revenue FROM sales WHERE _run_id = (SELECT id FROM newest)
  EXCEPT
  SELECT region, product, units, revenue FROM sales WHERE _run_id = (SELECT id FROM previous))
UNION ALL
SELECT 'removed', * FROM (
  SELECT region, product, units, revenue FROM sales WHERE _run_id = (SELECT id FROM previous)
  EXCEPT
  SELECT region, product, units, revenue FROM sales WHERE _run_id = (SELECT id FROM newest));
