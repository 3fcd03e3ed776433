wf_add_pytest(emu/test_api.py)
