wf_add_pytest(emu/test_api.py)
wf_add_pytest(emu/test_faults.py)
wf_add_pytest(emu/test_generate.py)
wf_add_pytest(emu/test_http.py)
