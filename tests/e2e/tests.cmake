# End-to-end tests of the real binary (wf_add_pytest: tests/CMakeLists.txt).
wf_add_pytest(e2e/test_load.py)
wf_add_pytest(e2e/test_run_index.py)
wf_add_pytest(e2e/test_data_first.py)
wf_add_pytest(e2e/test_runs.py)
wf_add_pytest(e2e/test_json.py)
wf_add_pytest(e2e/test_schema_cmd.py)
wf_add_pytest(e2e/test_spec_db.py)
wf_add_pytest(e2e/test_audit_versions.py)

# --- network side (branch net): waiting, client, run/attach/resume/status ---
foreach(t test_save_result test_session_wait test_session_faults test_session_tls test_run_cmd test_run_attach
        test_recovery)
  wf_add_pytest(e2e/${t}.py)
  set_property(TEST e2e.${t} APPEND PROPERTY ENVIRONMENT
    "WF_SESSION_DRIVER=$<TARGET_FILE:session_driver>")
endforeach()
# --- end network side ---
# SPEC sections 1-4, 8, 9 sentence by sentence (the audit's checks).
wf_add_pytest(e2e/test_spec_cli.py)
wf_add_pytest(e2e/test_everyday.py)
wf_add_pytest(e2e/test_memory.py)
wf_add_pytest(e2e/test_batch.py)
# PostgreSQL (SPEC 16): the test server (tests/lib/pgserver.py), --db URIs.
wf_add_pytest(e2e/test_pg_server.py)
wf_add_pytest(e2e/test_pg_uri.py)
wf_add_pytest(e2e/test_pg.py)
wf_add_pytest(e2e/test_pg_heartbeat.py)
# SPEC 15: diff and upsert.
wf_add_pytest(e2e/test_diff.py)
wf_add_pytest(e2e/test_upsert.py)
