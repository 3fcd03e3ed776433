wf_add_pytest(emu/test_api.py)
wf_add_pytest(emu/test_faults.py)
