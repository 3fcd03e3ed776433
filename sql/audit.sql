-- placeholder replaced by the audit DDL
SELECT 1;
