# End-to-end tests of the real binary (wf_add_pytest: tests/CMakeLists.txt).
wf_add_pytest(e2e/test_load.py)
wf_add_pytest(e2e/test_runs.py)
wf_add_pytest(e2e/test_schema_cmd.py)
