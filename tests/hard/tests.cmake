# Hardening: faults, crashes and sanitizers (docs/hardening.md).
wf_add_pytest(hard/test_faults_net.py)
wf_add_pytest(hard/test_faults_db.py)
