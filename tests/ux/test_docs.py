"""The documentation agrees with the program.

`wf2sqlite <command> --help` (whose text comes from the option table in
cmd/cli.c), the man page docs/wf2sqlite.1, the bash completion script and the
docs/*.md pages must not drift: every option one of them lists, the others
list too, for the same commands.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wfharness as h  # noqa: E402

DOCS = os.path.join(h.SOURCE_DIR, "docs")
MAN = os.path.join(DOCS, "wf2sqlite.1")
COMPLETION = os.path.join(DOCS, "wf2sqlite.bash-completion")

# On a branch without the other engineers' commands and docs (the ux branch
# before it is merged), the checks that need them are skipped, saying so. In a
# tree that has the command sources (main), every check runs.
MERGED = all(os.path.exists(os.path.join(h.SOURCE_DIR, "cmd", f))
             for f in ("cmd_run.c", "cmd_attach.c", "cmd_resume.c", "cmd_status.c",
                       "cmd_load.c", "cmd_schema.c", "cmd_runs.c"))
needs_merge = unittest.skipUnless(
    MERGED, "needs every command of SPEC section 3 (cmd/cmd_*.c) and the other docs: "
    "this tree has not merged them yet")

# SPEC section 3: the commands and their usage lines.
SPEC_COMMANDS = {
    "run": "run WORKFLOW_ID",
    "attach": "attach SESSION_ID",
    "resume": "resume",
    "status": "status SESSION_ID",
    "load": "load FILE|-",
    "schema": "schema FILE|-",
    "runs": "runs",
    "diff": "diff [RUN_A [RUN_B]]",
    "check": "check",
    "batch": "batch WORKFLOW_ID",
    "completion": "completion bash|zsh|fish",
}
# SPEC section 3's option table, as long names.
SPEC_OPTIONS = {
    "--db", "--table", "--mode", "--var", "--vars", "--workflow", "--no-wait", "--wait",
    "--poll-interval", "--timeout", "--base-url", "--account-id", "--api-key-file",
    "--cacert", "--retries", "--force", "--allow-partial", "--json", "--quiet", "--verbose",
    "--profile",
}
# SPEC section 8.
EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 130}
ENV_VARS = {"SCALE_API_KEY", "SCALE_ACCOUNT_ID", "SGP_BASE_URL", "WF2SQLITE_DB",
            "WF2SQLITE_CONFIG", "WF2SQLITE_PROFILE"}


def run_plain(args):
    r = h.run_wf(args, env=h.wf_env(key=None, account=None))
    return r


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def help_options(text):
    """The options of a --help text: '-v', '--var', ... from its option lines."""
    opts = set()
    in_options = False
    for line in text.splitlines():
        if line == "options:":
            in_options = True
            continue
        if in_options and (line == "" or not line.startswith(" ")):
            in_options = False
        if not in_options:
            continue
        m = re.match(r"^  (?:(-[A-Za-z]), )?(--[a-z][a-z-]*)\b", line) or \
            re.match(r"^      (--[a-z][a-z-]*)\b", line)
        if m:
            opts.update(g for g in m.groups() if g)
    return opts


def roff_text(s):
    return s.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace(
        "\\fR", "").replace("\\fP", "")


def man_sections(src):
    """{'.SH name': [lines]} of the man page source."""
    sections, name = {}, None
    for line in src.splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def opts_in(text):
    text = roff_text(text)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[A-Za-z])(?![\w-])", text))


def man_option_headings(src):
    """The options the OPTIONS section documents (the lines after each .TP)."""
    lines = man_sections(src)["OPTIONS"]
    out = set()
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            out |= opts_in(lines[i + 1])
    return out


def man_option_paragraphs(src):
    """{option: its paragraph's text} from the OPTIONS section."""
    lines = man_sections(src)["OPTIONS"]
    out, current = {}, []
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            current = sorted(opts_in(lines[i + 1]))
            for o in current:
                out[o] = ""
        elif line.startswith(".PP"):
            current = []
        else:
            for o in current:
                out[o] += " " + roff_text(line)
    return out


def help_defaults(text):
    """{'--timeout': '10m', ...}: what each option line of --help says its
    default is, joined across wrapped lines."""
    out, opt = {}, None
    joined = {}
    for line in text.splitlines():
        m = re.match(r"^  (?:-[A-Za-z], |    )(--[a-z][a-z-]*)", line)
        if m:
            opt = m.group(1)
            joined[opt] = line[32:]
        elif opt and line.startswith(" " * 32):
            joined[opt] += " " + line.strip()
        else:
            opt = None
    for o, t in joined.items():
        m = re.search(r"\(default: ([^,;)]+)", t)
        if m:
            out[o] = m.group(1).strip()
    return out


def man_command_sections(src):
    """{command: set of options from its 'Options:' paragraph} under COMMANDS."""
    lines = man_sections(src)["COMMANDS"]
    out, cmd, collecting = {}, None, False
    for line in lines:
        if line.startswith(".SS "):
            cmd = line[4:].strip().strip('"').split()[0]
            out[cmd] = set()
            collecting = False
        elif cmd and line.strip() == "Options:":
            collecting = True
        elif cmd and collecting:
            if line.startswith((".PP", ".SS", ".SH")):
                collecting = False
            else:
                out[cmd] |= opts_in(line)
    return out


def completion_options():
    """{command: set of options} from the completion script's case table."""
    out = {}
    for m in re.finditer(r'^\t(\w+)\) echo "([^"]*)" ;;$', read(COMPLETION), re.M):
        out[m.group(1)] = set(m.group(2).split())
    return out


class DocsTest(h.WfTestCase):

    @classmethod
    def setUpClass(cls):
        cls.man = read(MAN)
        cls.helps = {}
        for cmd in SPEC_COMMANDS:
            cls.helps[cmd] = run_plain([cmd, "--help"])

    def command_help(self, cmd):
        r = self.helps[cmd]
        self.assertRc(r, 0)
        return r.out

    @needs_merge
    def test_main_help_lists_every_spec_command_with_its_usage(self):
        r = run_plain(["--help"])
        self.assertRc(r, 0)
        for cmd, usage in SPEC_COMMANDS.items():
            self.assertRegex(r.out, r"(?m)^  " + re.escape(usage) + r"(?=\s|$)",
                             "wf2sqlite --help does not list " + cmd)
        listed = re.findall(r"(?m)^  ([a-z]+) ", r.out.split("commands:")[1].split("\n\n")[0])
        self.assertEqual(set(listed), set(SPEC_COMMANDS))

    def test_no_arguments_prints_help_on_stderr_and_exits_2(self):
        r = run_plain([])
        self.assertRc(r, 2)
        self.assertIn("usage: wf2sqlite", r.err)

    @needs_merge
    def test_every_command_has_help_with_usage_and_examples(self):
        for cmd, usage in SPEC_COMMANDS.items():
            with self.subTest(cmd=cmd):
                text = self.command_help(cmd)
                self.assertTrue(text.startswith("usage: wf2sqlite " + usage), text)
                self.assertIn("\nexamples:\n", text)
                self.assertRegex(text, r"(?m)^  wf2sqlite " + cmd + r"\b")
                self.assertIn("--help", help_options(text))

    @needs_merge
    def test_help_lines_fit_80_columns(self):
        texts = [run_plain(["--help"]).out] + [self.command_help(c) for c in SPEC_COMMANDS]
        for text in texts:
            for line in text.splitlines():
                self.assertLessEqual(len(line), 79, line)

    @needs_merge
    def test_every_help_option_is_in_the_man_page_options(self):
        man_opts = man_option_headings(self.man)
        for cmd in SPEC_COMMANDS:
            with self.subTest(cmd=cmd):
                missing = help_options(self.command_help(cmd)) - man_opts
                self.assertEqual(missing, set(), "in `%s --help`, not in the man page" % cmd)

    @needs_merge
    def test_man_option_paragraph_names_the_commands_that_take_it(self):
        # A paragraph that opens with the commands it applies to, "(run,
        # attach, ...)", names every command whose --help lists the option
        # (in that opening or a later "(diff) ..." of the same paragraph).
        names = set(SPEC_COMMANDS)
        group = re.compile(r"\(((?:[a-z]+, )*[a-z]+)(?:\)| with )")

        def plain(line):
            line = re.sub(r"^\.[A-Z]{1,2}\b", "", line).replace('"', "")
            line = re.sub(r"\s*,\s*", ", ", roff_text(line))
            return re.sub(r"\(\s*", "(", re.sub(r"\s*\)", ")", line)).strip()

        lines = man_sections(self.man)["OPTIONS"]
        paragraphs = []
        for i, line in enumerate(lines):
            if line.startswith(".TP") and i + 1 < len(lines):
                paragraphs.append((opts_in(lines[i + 1]), []))
            elif line.startswith((".PP", ".SH")):
                paragraphs.append((set(), []))
            elif paragraphs and i > 0 and not lines[i - 1].startswith(".TP"):
                paragraphs[-1][1].append(plain(line))
        checked = 0
        for opts, body in paragraphs:
            m = group.match(" ".join(body))
            if not opts or not m or not set(m.group(1).split(", ")) <= names:
                continue
            listed = set()
            for g in group.findall(" ".join(body)):
                if set(g.split(", ")) <= names:
                    listed |= set(g.split(", "))
            for opt in opts - {"-h", "-q", "-v"}:
                taking = {c for c in SPEC_COMMANDS if opt in help_options(self.command_help(c))}
                with self.subTest(opt=opt):
                    self.assertEqual(listed, taking, "the man page's (commands) of " + opt)
                checked += 1
        self.assertGreater(checked, 5)

    @needs_merge
    def test_every_man_option_is_in_some_help(self):
        union = set()
        for cmd in SPEC_COMMANDS:
            union |= help_options(self.command_help(cmd))
        main_help = run_plain(["--help"]).out
        for opt in man_option_headings(self.man):
            with self.subTest(opt=opt):
                if opt == "--version":
                    self.assertIn("--version", main_help)
                else:
                    self.assertIn(opt, union, "in the man page, in no --help")

    @needs_merge
    def test_man_states_the_defaults_that_help_states(self):
        paragraphs = man_option_paragraphs(self.man)
        checked = 0
        for cmd in SPEC_COMMANDS:
            for opt, default in help_defaults(self.command_help(cmd)).items():
                with self.subTest(cmd=cmd, opt=opt):
                    # Key words of the default ("10m", "$SGP_BASE_URL", "the workflow id").
                    for word in re.findall(r"[$\w.]+", default)[:3]:
                        self.assertIn(word, paragraphs.get(opt, ""), default)
                    checked += 1
        self.assertGreaterEqual(checked, 5)

    @needs_merge
    def test_man_json_example_has_the_keys_load_prints(self):
        lines = man_sections(self.man)["JSON OUTPUT"]
        start, end = lines.index(".EX"), lines.index(".EE")
        example = json.loads(roff_text("\n".join(lines[start + 1:end])))
        body = {"schema": [{"id": "a", "header": "A", "type": "number"}],
                "data": [{"a": 1}, {"a": 2}], "start": 0, "end": 2,
                "result": {"summary": {"totalNumberOfRows": 2, "executionDurationMillis": 5}}}
        r = h.run_wf(["load", "-", "--db", self.path("j.db"), "--json", "--quiet"],
                     env=h.wf_env(key=None, account=None), input=json.dumps(body))
        self.assertRc(r, 0)
        out = r.json()
        self.assertEqual(set(out), set(example))
        self.assertEqual(set(out["timings"]), set(example["timings"]))
        self.assertEqual((out["status"], out["rows_loaded"], out["exit_code"]), ("loaded", 2, 0))

    def test_spec_options_are_all_documented(self):
        man_opts = man_option_headings(self.man)
        self.assertEqual(SPEC_OPTIONS - man_opts, set())
        self.assertIn("-v", man_opts)
        self.assertIn("-q", man_opts)

    @needs_merge
    def test_man_page_has_a_section_per_command_listing_its_help_options(self):
        sections = man_command_sections(self.man)
        self.assertEqual(set(sections), set(SPEC_COMMANDS))
        for cmd in SPEC_COMMANDS:
            with self.subTest(cmd=cmd):
                want = help_options(self.command_help(cmd)) - {"-h", "--help"}
                self.assertEqual(sections[cmd], want)

    def test_man_synopsis_names_every_command(self):
        syn = roff_text("\n".join(man_sections(self.man)["SYNOPSIS"]))
        for cmd in SPEC_COMMANDS:
            self.assertRegex(syn, r"(?m)^\.B " + cmd + "$")

    @needs_merge
    def test_completion_lists_the_same_options_as_help(self):
        comp = completion_options()
        self.assertEqual(set(comp), set(SPEC_COMMANDS))
        m = re.search(r'^_wf2sqlite_commands="([^"]*)"', read(COMPLETION), re.M)
        self.assertEqual(set(m.group(1).split()), set(SPEC_COMMANDS))
        for cmd in SPEC_COMMANDS:
            with self.subTest(cmd=cmd):
                self.assertEqual(comp[cmd], help_options(self.command_help(cmd)))

    def test_completion_completes_in_bash(self):
        bash = shutil.which("bash")
        if not bash:
            self.skipTest("bash is not installed")
        script = (
            '. "$1"\n'
            't() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
            'COMPREPLY=(); _wf2sqlite; echo "${COMPREPLY[*]}"; }\n'
            't wf2sqlite ""\n'
            't wf2sqlite run --no\n'
            't wf2sqlite attach --mode ""\n'
            't wf2sqlite run --wait = b\n'
            'complete -p wf2sqlite\n')
        p = subprocess.run([bash, "-c", script, "bash", COMPLETION], capture_output=True,
                           text=True, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(set(lines[0].split()), set(SPEC_COMMANDS) | {"--help", "--version"})
        self.assertEqual(lines[1], "--no-wait")
        self.assertEqual(lines[2].split(), ["append", "replace", "fail", "upsert"])
        self.assertEqual(lines[3], "block")
        self.assertEqual(lines[4], "complete -F _wf2sqlite wf2sqlite")

    def test_installed_bash_completion_is_what_the_program_generates(self):
        r = run_plain(["completion", "bash"])
        self.assertRc(r, 0)
        self.assertEqual(r.out, read(COMPLETION),
                         "regenerate it: wf2sqlite completion bash > docs/wf2sqlite.bash-completion")

    def test_zsh_and_fish_completion_list_the_options_help_lists(self):
        zsh = run_plain(["completion", "zsh"])
        fish = run_plain(["completion", "fish"])
        self.assertRc(zsh, 0)
        self.assertRc(fish, 0)
        for cmd in SPEC_COMMANDS:
            with self.subTest(cmd=cmd):
                want = help_options(self.command_help(cmd))
                body = re.search(r"(?ms)^\t%s\)\n(.*?)^\t\t;;$" % cmd, zsh.out).group(1)
                got = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[A-Za-z])(?=[=+,\[}])", body))
                self.assertEqual(got, want, "zsh")
                got = set()
                for m in re.finditer(r"(?m)^complete -c wf2sqlite -n '__fish_seen_subcommand_from "
                                     r"%s'(?: -s (\w))? -l ([a-z-]+)" % cmd, fish.out):
                    if m.group(1):
                        got.add("-" + m.group(1))
                    got.add("--" + m.group(2))
                self.assertEqual(got, want, "fish")
        for shell, text in (("zsh", zsh.out), ("fish", fish.out)):
            exe = shutil.which(shell)
            if not exe:
                continue
            with self.subTest(shell=shell):
                path = self.path("completion." + shell)
                with open(path, "w") as f:
                    f.write(text)
                p = subprocess.run([exe, "-n", path], capture_output=True, text=True)
                self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_zsh_completion_finds_the_command_after_options(self):
        """Options may come before the command (SPEC 18): zsh completes the
        command after them, their values, and the command's options with the
        earlier options in view (zsh's _arguments and _describe stubbed: what
        they are handed is checked)."""
        zsh = shutil.which("zsh")
        if not zsh:
            self.skipTest("zsh is not installed")
        r = run_plain(["completion", "zsh"])
        self.assertRc(r, 0)
        path = self.path("_wf2sqlite")
        with open(path, "w") as f:
            f.write(r.out)
        script = (
            'compdef() { :; }\n'
            'source "$1"\n'
            '_arguments() { print -r -- "ARGS|${(j:,:)words}|$CURRENT|$*" }\n'
            '_describe() { print -r -- "COMMANDS" }\n'
            't() { words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}; _wf2sqlite }\n'
            't wf2sqlite ""\n'
            't wf2sqlite --db x.db ""\n'
            't wf2sqlite --db ""\n'
            't wf2sqlite -q --profile p runs --js\n'
            't wf2sqlite -v a=b load ""\n'
            't wf2sqlite --db=x.db help ""\n'
            't wf2sqlite run --no\n')
        p = subprocess.run([zsh, "-f", "-c", script, "zsh", path], capture_output=True,
                           text=True, cwd=self.dir)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "COMMANDS")
        self.assertEqual(lines[1], "COMMANDS")  # the command, after an option and its value
        self.assertTrue(lines[2].startswith("ARGS|wf2sqlite,--db,|3|"), lines[2])
        self.assertIn("--db=[", lines[2])  # every option, before the command
        self.assertIn("--version", lines[2])
        # The command's own specs, with the options before it still in words.
        self.assertTrue(lines[3].startswith("ARGS|wf2sqlite,-q,--profile,p,--js|5|"), lines[3])
        self.assertIn("--status=", lines[3])  # runs' --status
        self.assertTrue(lines[4].startswith("ARGS|wf2sqlite,-v,a=b,|4|"), lines[4])
        self.assertIn("--db=", lines[4])
        self.assertEqual(lines[5], "COMMANDS")
        self.assertTrue(lines[6].startswith("ARGS|wf2sqlite,--no|2|"), lines[6])
        self.assertIn("--no-wait", lines[6])

    def test_completion_of_an_unknown_shell_is_exit_2(self):
        r = run_plain(["completion", "tcsh"])
        self.assertRc(r, 2)
        self.assertIn("bash, zsh and fish", r.err)

    def test_completion_knows_options_before_the_command_and_profiles(self):
        bash = shutil.which("bash")
        if not bash:
            self.skipTest("bash is not installed")
        cfg = self.path("config")
        with open(cfg, "w") as f:
            f.write("[default]\ndb = a.db\n[staging]\n[prod]\n")
        script = (
            '. "$1"\n'
            't() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
            'COMPREPLY=(); _wf2sqlite; echo "${COMPREPLY[*]}"; }\n'
            't wf2sqlite --db x.db ru\n'
            't wf2sqlite --db x.db runs --j\n'
            't wf2sqlite run w --profile ""\n'
            't wf2sqlite help chec\n')
        p = subprocess.run([bash, "-c", script, "bash", COMPLETION], capture_output=True,
                           text=True, cwd=self.dir, env=dict(os.environ, WF2SQLITE_CONFIG=cfg))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), ["run runs", "--json", "default staging prod",
                                                 "check"])

    def test_version_prints_the_three_library_versions(self):
        r = run_plain(["--version"])
        self.assertRc(r, 0)
        m = re.match(r"^wf2sqlite (\d+\.\d+\.\d+) \(libcurl ([\w.-]+), json-c ([\w.-]+), "
                     r"SQLite ([\w.-]+)\)\n$", r.out)
        self.assertIsNotNone(m, r.out)
        import sqlite3
        # Python's sqlite3 module links the same system library.
        self.assertEqual(m.group(4), sqlite3.sqlite_version)
        pc = shutil.which("pkg-config")
        if pc:
            for mod, ver in (("libcurl", m.group(2)), ("json-c", m.group(3))):
                p = subprocess.run([pc, "--modversion", mod], capture_output=True, text=True)
                if p.returncode == 0:
                    self.assertEqual(ver, p.stdout.strip(), mod)
        # The man page's title line carries the same version.
        self.assertRegex(self.man, r'(?m)^\.TH WF2SQLITE 1 "[^"]*" "wf2sqlite %s"'
                         % re.escape(m.group(1)))

    def test_exit_codes_doc_says_what_runs_json_prints_on_a_failure(self):
        text = " ".join(read(os.path.join(DOCS, "exit-codes.md")).split())
        r = run_plain(["runs", "--json", "--bogus"])
        self.assertRc(r, 2)
        self.assertEqual(r.out, "[]\n")
        self.assertIn("`runs --json`, whose output is an array, prints an empty array `[]` on "
                      "a failure", text)

    def test_man_exit_status_matches_spec(self):
        lines = man_sections(self.man)["EXIT STATUS"]
        codes = {int(lines[i + 1][3:]) for i, line in enumerate(lines)
                 if line.startswith(".TP") and lines[i + 1].startswith(".B ")}
        self.assertEqual(codes, EXIT_CODES)

    def test_exit_codes_doc_and_main_help_match_spec(self):
        text = read(os.path.join(DOCS, "exit-codes.md"))
        codes = {int(c) for c in re.findall(r"(?m)^\| *(\d+) *\|", text)}
        self.assertEqual(codes, EXIT_CODES)
        main_help = run_plain(["--help"]).out
        for c in EXIT_CODES:
            self.assertRegex(main_help, r"\b%d [a-z]" % c)

    def test_man_environment_lists_the_variables(self):
        env = set(re.findall(r"^\.B ([A-Z_0-9]+)$", "\n".join(man_sections(self.man)["ENVIRONMENT"]),
                             re.M))
        self.assertTrue(ENV_VARS <= env, env)
        main_help = run_plain(["--help"]).out
        for v in ENV_VARS | (env - {"TERM"}):
            self.assertIn(v, main_help)

    def test_man_page_has_the_usual_sections(self):
        for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT",
                  "FILES", "EXIT STATUS", "EXAMPLES", "SECURITY", "SEE ALSO"):
            self.assertIn(s, man_sections(self.man))

    def test_man_page_renders_without_warnings(self):
        groff = shutil.which("groff")
        if not groff:
            self.skipTest("groff is not installed (apt-get install groff-base)")
        p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True,
                           text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        p = subprocess.run([groff, "-man", "-Tascii", MAN], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80"))
        self.assertIn("wf2sqlite run WORKFLOW_ID", re.sub(r".\x08", "", p.stdout))

    @needs_merge
    def test_docs_links_resolve(self):
        pages = [os.path.join(DOCS, f) for f in os.listdir(DOCS) if f.endswith(".md")]
        readme = os.path.join(h.SOURCE_DIR, "README.md")
        if os.path.exists(readme):
            pages.append(readme)
        for page in pages:
            text = read(page)
            # Paths named in backquotes, as the README lists the docs.
            for path in re.findall(r"`((?:docs|sql|scripts|examples)/[\w./-]+)`", text):
                with self.subTest(page=os.path.basename(page), path=path):
                    self.assertTrue(os.path.exists(os.path.join(h.SOURCE_DIR, path)), path)
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if re.match(r"^[a-z]+:", target):
                    continue
                path = os.path.normpath(os.path.join(os.path.dirname(page), target))
                with self.subTest(page=os.path.basename(page), target=target):
                    self.assertTrue(os.path.exists(path), path)

    @needs_merge
    def test_guide_points_to_the_other_docs_and_they_exist(self):
        guide = read(os.path.join(DOCS, "guide.md"))
        for name in ("type-mapping.md", "audit-tables.md", "emulator.md", "configuration.md",
                     "waiting.md", "exit-codes.md", "progress.md"):
            with self.subTest(doc=name):
                self.assertIn("(" + name + ")", guide)
                self.assertTrue(os.path.exists(os.path.join(DOCS, name)), name)

    @needs_merge
    def test_guide_commands_use_only_documented_options(self):
        """Every `wf2sqlite <cmd> ...` line of the guide and the README names a
        real command and only options its --help lists."""
        texts = [read(os.path.join(DOCS, "guide.md"))]
        readme = os.path.join(h.SOURCE_DIR, "README.md")
        if os.path.exists(readme):
            texts.append(read(readme))
        seen = 0
        for text in texts:
            for m in re.finditer(r"(?:^|[\s$(`])(?:build/cmd/)?wf2sqlite ([a-z]+)([^\n`]*)", text):
                cmd, rest = m.group(1), m.group(2)
                if cmd not in SPEC_COMMANDS:
                    continue
                seen += 1
                opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])(?=[\s=]|$)", rest))
                with self.subTest(line=m.group(0).strip()):
                    self.assertEqual(opts - help_options(self.command_help(cmd)), set())
        self.assertGreater(seen, 5)

    def test_cmake_install_puts_man_page_and_completion_in_place(self):
        build = os.path.dirname(os.path.dirname(os.path.abspath(h.WF2SQLITE)))
        if not os.path.exists(os.path.join(build, "cmake_install.cmake")):
            self.skipTest("no CMake build tree above " + h.WF2SQLITE)
        prefix = os.path.join(self.dir, "prefix")
        p = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        man = os.path.join(prefix, "share", "man", "man1", "wf2sqlite.1")
        comp = os.path.join(prefix, "share", "bash-completion", "completions", "wf2sqlite")
        self.assertTrue(os.path.exists(man))
        self.assertTrue(os.path.exists(comp))
        self.assertTrue(os.access(os.path.join(prefix, "bin", "wf2sqlite"), os.X_OK))
        with open(man) as a, open(MAN) as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    unittest.main()
