# Hardening: faults, crashes and sanitizers (docs/hardening.md).
wf_add_pytest(hard/test_faults_net.py)
wf_add_pytest(hard/test_faults_db.py)
wf_add_pytest(hard/test_crash.py)
wf_add_pytest(hard/test_http_stack.py)
# test_valgrind.py is run by scripts/valgrind.sh (scripts/test.sh), not by CTest.
