# User-experience tests: the docs agree with the program, the progress line on
# a real terminal (tmux).
wf_add_pytest(ux/test_docs.py)
wf_add_pytest(ux/test_progress_tty.py)
