"""test_readme.py -- the examples of README.md and of the man pages, run as a
person would run them, and the man pages held to the code.

- README.md: every ```sh and ```console block runs, in order, in one
  folder, with build/ on PATH, against a test llmuxd (mock/echo, and the
  fake upstream behind gpt4o and openai/…), unless the line before it says
  `<!-- not run: REASON -->`. A ```console block is `$ command` lines, each
  followed by exactly what it prints (stdout and stderr, as a terminal
  shows them); `# exits N` at the end of a command expects status N, else
  0. The ```c block is app.c; the console block after it builds it with
  pkg-config, once against the build tree, once against `make install`.
- llmux(1), libllmux(3): the EXAMPLES run the same way (a `.\\" not run:`
  comment skips the line after it).
- llmux.h compiles alone with -std=c11 -pedantic; libllmux.so exports the
  functions of llmux.h and nothing else; the options of `llmux --help` and
  `llmuxd --help` are those of the man pages; the configuration keys and
  strategies of llmux.yaml(5) are those daemon/config.c reads."""

import os
import re
import shutil
import subprocess
import tempfile

from harness import BUILD, LLMUX, LLMUXD, ROOT, Daemon, Fake, free_port

README = os.path.join(ROOT, 'README.md')
MAN1 = os.path.join(ROOT, 'client', 'llmux.1')
MAN3 = os.path.join(ROOT, 'client', 'libllmux.3')
MAN5 = os.path.join(ROOT, 'etc', 'llmux.yaml.5')
MAN8 = os.path.join(ROOT, 'daemon', 'llmuxd.8')
CONFIG_C = os.path.join(ROOT, 'daemon', 'config.c')
CONFIG_SOURCES = ('config.c', 'routercfg.c', 'deployment.c', 'cload.c')

NOT_RUN = re.compile(r'^<!-- not run: (.+) -->$')
EXITS = re.compile(r'\s+# exits (\d+)$')


def sanitized():
    return os.path.abspath(BUILD).rstrip('/').endswith('build-san')


# ---- reading the documents -------------------------------------------------

def readme_blocks():
    """[(heading, lang, text, not_run_reason or None, line)] in order."""
    out, heading, lines = [], '', open(README).read().split('\n')
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith('#') and not ln.startswith('#!'):
            heading = ln.lstrip('#').strip()
        if ln.startswith('```') and ln != '```':
            lang, start, body = ln[3:].strip(), i + 1, []
            i += 1
            while lines[i] != '```':
                body.append(lines[i])
                i += 1
            prev = lines[start - 2] if start >= 2 else ''
            m = NOT_RUN.match(prev)
            out.append((heading, lang, '\n'.join(body) + '\n', m.group(1) if m else None, start))
        i += 1
    return out


def roff_text(s):
    """The characters a roff line stands for (the escapes the pages use)."""
    s = s.replace('\\-', '-').replace('\\e', '\\').replace('\\&', '')
    return re.sub(r'\\f[BIRP]', '', s)


def man_sections(path):
    """{SECTION: [raw lines]} of a man page."""
    out, cur = {}, None
    for ln in open(path).read().split('\n'):
        m = re.match(r'^\.SH\s+"?([^"]+)"?$', ln)
        if m:
            cur = m.group(1).strip()
            out[cur] = []
        elif cur:
            out[cur].append(ln)
    return out


def man_examples(path):
    """The .nf … .fi lines of EXAMPLES as text: [(line, not_run_reason)]."""
    out, skip, inside = [], None, False
    for ln in man_sections(path)['EXAMPLES']:
        if ln == '.nf':
            inside = True
        elif ln == '.fi':
            inside = False
        elif inside and ln.startswith('.\\" not run:'):
            skip = ln.split(':', 1)[1].strip()
        elif inside:
            out.append((roff_text(ln), skip))
            skip = None
    return out


def options_in(text):
    """-x and --long-option words of a text."""
    return set(re.findall(r'(?<![\w-])(--[a-z][a-z-]*[a-z]|-[A-Za-z])(?![\w-])', text))


# ---- running examples -----------------------------------------------------

def sh(cmd, cwd, env, timeout=60):
    """One command line as a person's shell runs it; a pipeline fails when
    any part does (bash -o pipefail)."""
    return subprocess.run(['bash', '-o', 'pipefail', '-c', cmd], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def run_sh_block(text, cwd, env, where):
    for cmd in text.split('\n'):
        if not cmd.strip() or cmd.lstrip().startswith('#'):
            continue
        p = sh(cmd, cwd, env)
        assert p.returncode == 0, (where, cmd, p.returncode, p.stdout.decode())


def run_console_block(text, cwd, env, where):
    """`$ command` lines, each followed by its exact output."""
    steps = []
    for ln in text.rstrip('\n').split('\n'):
        if ln.startswith('$ '):
            steps.append([ln[2:], []])
        else:
            assert steps, (where, 'output before any command', ln)
            steps[-1][1].append(ln)
    assert steps, (where, 'an empty console block')
    for cmd, want in steps:
        m = EXITS.search(cmd)
        status = int(m.group(1)) if m else 0
        p = sh(cmd, cwd, env)
        expect = ''.join(w + '\n' for w in want)
        assert (p.returncode, p.stdout.decode()) == (status, expect), (where, cmd, p.returncode,
                                                                      p.stdout.decode())


def cc_wrapper(tmp):
    """A folder to put first on PATH for the sanitized build: an ASan
    libllmux needs the ASan runtime in the program too, so `cc` there adds
    the flags; the README's command line stays as it is."""
    d = os.path.join(tmp, 'san-bin')
    os.makedirs(d)
    with open(os.path.join(d, 'cc'), 'w') as f:
        f.write('#!/bin/sh\nexec %s "$@" -fsanitize=address,undefined\n' % shutil.which('cc'))
    os.chmod(os.path.join(d, 'cc'), 0o755)
    return d


def uninstalled_pc_dir(tmp):
    """Where pkg-config finds llmux for the build tree. The Makefile's
    build/llmux-uninstalled.pc when it is there (pkg-config prefers
    NAME-uninstalled.pc); else the same file, made here."""
    if os.path.exists(os.path.join(BUILD, 'llmux-uninstalled.pc')):
        return BUILD
    d = os.path.join(tmp, 'pc')
    os.makedirs(d)
    with open(os.path.join(d, 'llmux-uninstalled.pc'), 'w') as f:
        f.write('Name: llmux\nDescription: client library of llmux (build tree)\n'
                'Version: 0.1.0\nRequires.private: msgpack\n'
                'Cflags: -I%s/client -I%s/protocol\nLibs: -L%s -lllmux\n'
                % (ROOT, ROOT, os.path.abspath(BUILD)))
    return d


def base_env(d, tmp, path_first):
    env = dict(d.env)
    env['LLMUX_SOCKET'] = d.sock
    path = path_first + [env.get('PATH', '/usr/bin:/bin')]
    if sanitized():
        path.insert(0, cc_wrapper(tmp))
    env['PATH'] = ':'.join(path)
    return env


def build_tree_env(d, tmp):
    """What the README says to export before `make install`."""
    env = base_env(d, tmp, [os.path.abspath(BUILD)])
    env['PKG_CONFIG_PATH'] = uninstalled_pc_dir(tmp)
    env['LD_LIBRARY_PATH'] = os.path.abspath(BUILD)
    return env


def readme_daemon(fake):
    """gpt4o and openai/… go to the fake upstream (gpt4o echoes); no other
    provider has a key, so anthropic/… fails as the README shows; cheap is
    the priced mock group of "Keys, budgets and spend". The response cache
    is on for requests that ask (Caching); the HTTP listener has a master
    key (the key endpoints need one)."""
    cfg = '''model_list:
  - model_name: gpt4o
    litellm_params: {model: openai/echo, api_base: %s/v1, api_key: sk-test-key}
  - model_name: cheap
    litellm_params: {model: mock/demo, mock_response: "one two three",
                     input_cost_per_token: 0.001, output_cost_per_token: 0.002}
litellm_settings:
  cache: true
  cache_params: {type: local, mode: default_off}
general_settings:
  master_key: os.environ/LLMUX_MASTER_KEY
''' % fake.url
    port = free_port()
    # The master key is the $OPENAI_API_KEY the HTTP examples send, as
    # "Use your existing OpenAI SDK" says it is when one is set.
    d = Daemon(cfg, env={'OPENAI_API_KEY': 'sk-test-key', 'LLMUX_MASTER_KEY': 'sk-test-key',
                         'OPENAI_API_BASE': fake.url + '/v1'},
               args=['--http', '127.0.0.1:%d' % port])
    # "Use your existing OpenAI SDK" has the reader export these first.
    d.env['OPENAI_BASE_URL'] = 'http://127.0.0.1:%d/v1' % port
    return d


def c_example_and_build():
    """The README's ```c block and the console block that builds it."""
    blocks = readme_blocks()
    i = next(i for i, b in enumerate(blocks) if b[1] == 'c')
    build = next(b for b in blocks[i + 1:] if b[1] in ('sh', 'console'))
    assert build[3] is None and 'cc app.c -o app $(pkg-config --cflags --libs llmux)' in build[2], build
    return blocks[i], build


# ---- README.md ------------------------------------------------------------

def test_every_readme_shell_block_runs_or_says_why_not():
    # A shell example in a ```bash or ```shell fence would slip past.
    langs = {b[1] for b in readme_blocks()}
    assert langs <= {'sh', 'console', 'c', 'yaml'}, langs
    blocks = [b for b in readme_blocks() if b[1] in ('sh', 'console')]
    ran = 0
    with Fake() as f, readme_daemon(f) as d:
        tmp = tempfile.mkdtemp(prefix='llmux-readme-')
        env = build_tree_env(d, tmp)
        for heading, lang, text, reason, line in blocks:
            where = 'README.md:%d (%s)' % (line, heading)
            if reason is not None:
                assert len(reason) > 10, (where, 'say why it does not run')
                continue
            if 'cc app.c' in text:
                c, _ = c_example_and_build()
                with open(os.path.join(tmp, 'app.c'), 'w') as out:
                    out.write(c[2])
            if lang == 'console':
                run_console_block(text, tmp, env, where)
            else:
                run_sh_block(text, tmp, env, where)
            ran += 1
        # A `not run` on every block would pass the loop above.
        assert ran >= 4, ran
        # What the blocks asked the fake for: the README's model names.
        models = [r['model'] for r in f.requests()]
        assert 'gpt-4o-mini' in models and 'echo' in models, models


def test_readme_c_example_against_an_installed_tree():
    c, build = c_example_and_build()
    b = os.path.abspath(BUILD)
    tmp = tempfile.mkdtemp(prefix='llmux-readme-inst-')
    dest = os.path.join(tmp, 'dest')
    p = subprocess.run(['make', '--no-print-directory', '-C', ROOT, 'B=' + b,
                        '-o', os.path.join(b, 'llmuxd'), '-o', os.path.join(b, 'llmux'),
                        'install-files', 'DESTDIR=' + dest, 'PREFIX=/usr'],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    work = os.path.join(tmp, 'work')
    os.makedirs(work)
    # The installed header set is complete: -I…/usr/include alone.
    compile_only_llmux_h(work, dict(os.environ, PKG_CONFIG_SYSROOT_DIR=dest,
                                    PKG_CONFIG_PATH=os.path.join(dest, 'usr', 'lib', 'pkgconfig')))
    with open(os.path.join(work, 'app.c'), 'w') as f:
        f.write(c[2])
    with Daemon() as d:
        env = base_env(d, tmp, [os.path.join(dest, 'usr', 'bin')])
        env['PKG_CONFIG_PATH'] = os.path.join(dest, 'usr', 'lib', 'pkgconfig')
        env['PKG_CONFIG_SYSROOT_DIR'] = dest
        env['LD_LIBRARY_PATH'] = os.path.join(dest, 'usr', 'lib')
        run_console_block(build[2], work, env, 'README.md:%d (installed)' % build[4])
        ldd = subprocess.run(['ldd', os.path.join(work, 'app')], env=env,
                             capture_output=True).stdout.decode()
        assert os.path.join(dest, 'usr', 'lib', 'libllmux.so.0') in ldd, ldd


def test_chat_sends_the_prompt_then_stdin():
    notes = 'Line one.\n\ttabbed  spaces \n\nlast, no newline'
    with Daemon() as d:
        p = d.llmux('chat', '-m', 'mock/echo', 'Summarise this:', input=notes.encode())
        assert p.returncode == 0, p.stderr
        # mock/echo streams word by word; the pieces join byte for byte,
        # and llmux ends the line the answer left open.
        assert p.stdout == ('Summarise this:\n\n' + notes + '\n').encode(), p.stdout
        p = d.llmux('chat', '-m', 'mock/echo', '--no-stream', 'two', 'words', input=b'x\n')
        assert p.stdout == b'two words\n\nx\n', p.stdout
        # An empty stdin adds nothing, not even the blank line.
        p = d.llmux('chat', '-m', 'mock/echo', 'alone', input=b'')
        assert p.returncode == 0 and p.stdout == b'alone\n', p


def test_the_configuration_examples_are_valid():
    """The README's and llmux.yaml(5)'s YAML pass `llmuxd --check`."""
    texts = [(b[4], b[2]) for b in readme_blocks() if b[1] == 'yaml']
    man = [roff_text(ln) for ln in man_sections(MAN5)['EXAMPLE'] if not ln.startswith('.')]
    texts.append(('llmux.yaml.5', '\n'.join(man) + '\n'))
    assert len(texts) >= 2, texts
    tmp = tempfile.mkdtemp(prefix='llmux-yaml-')
    for where, text in texts:
        path = os.path.join(tmp, 'c.yaml')
        with open(path, 'w') as f:
            f.write(text)
        p = subprocess.run([LLMUXD, '-c', path, '--check'], capture_output=True, timeout=30,
                           env={'PATH': os.environ.get('PATH', ''), 'OPENAI_API_KEY': 'sk-x'})
        assert p.returncode == 0, (where, p.stdout.decode() + p.stderr.decode())


# ---- man pages ------------------------------------------------------------

def test_llmux_1_examples_run():
    lines = man_examples(MAN1)
    with Fake() as f, readme_daemon(f) as d:
        tmp = tempfile.mkdtemp(prefix='llmux-man1-')
        env = build_tree_env(d, tmp)
        # The files the examples read.
        with open(os.path.join(tmp, 'notes.txt'), 'w') as out:
            out.write('Some notes.\n')
        with open(os.path.join(tmp, 'request.json'), 'w') as out:
            out.write('{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}\n')
        ran = 0
        for cmd, reason in lines:
            if reason:
                continue
            p = sh(cmd, tmp, env)
            assert p.returncode == 0, (cmd, p.stdout.decode())
            ran += 1
        assert ran >= 4, lines


def test_libllmux_3_example_compiles_and_runs():
    src = '\n'.join(ln for ln, _ in man_examples(MAN3)) + '\n'
    with Daemon() as d:
        tmp = tempfile.mkdtemp(prefix='llmux-man3-')
        env = build_tree_env(d, tmp)
        with open(os.path.join(tmp, 'app.c'), 'w') as f:
            f.write(src)
        p = sh('cc app.c -o app $(pkg-config --cflags --libs llmux)', tmp, env)
        assert p.returncode == 0, p.stdout.decode()
        p = sh('./app', tmp, env)
        assert (p.returncode, p.stdout) == (0, b'hello\n'), p
        # The error path prints the daemon's message.
        env['LLMUX_SOCKET'] = os.path.join(tmp, 'nothing-here.sock')
        p = sh('./app', tmp, env)
        assert p.returncode == 1 and p.stdout == (
            b'llmux: No such file or directory: cannot connect to %s (is llmuxd running?)\n'
            % env['LLMUX_SOCKET'].encode()), p.stdout


def compile_only_llmux_h(tmp, env):
    """A file that includes <llmux.h> and nothing else compiles with
    -pedantic and every warning an error, with pkg-config's flags."""
    src = os.path.join(tmp, 'only.c')
    with open(src, 'w') as f:
        f.write('#include <llmux.h>\n\nint main(void)\n{\n'
                '    llmux_error_t e = { 0 };\n\n'
                '    return llmux_err_exit_code(e.code) + (LLMUX_EAUTH < 0 ? 0 : 1);\n}\n')
    flags = subprocess.run(['pkg-config', '--cflags', 'llmux'], env=env, capture_output=True,
                           check=True).stdout.decode().split()
    for std in ('-std=c11', '-std=c99'):
        p = subprocess.run(['cc', std, '-pedantic', '-Wall', '-Wextra', '-Werror', '-c', src,
                            '-o', os.path.join(tmp, 'only.o')] + flags, capture_output=True)
        assert p.returncode == 0, (std, flags, p.stderr.decode())


def test_llmux_h_compiles_alone_with_pedantic_c11():
    """In the build tree; test_readme_c_example_against_an_installed_tree
    does the same with the installed headers alone."""
    tmp = tempfile.mkdtemp(prefix='llmux-hdr-')
    compile_only_llmux_h(tmp, dict(os.environ, PKG_CONFIG_PATH=uninstalled_pc_dir(tmp)))


def test_the_library_exports_exactly_the_functions_of_llmux_h():
    header = open(os.path.join(ROOT, 'client', 'llmux.h')).read()
    declared = set(re.findall(r'\b(llmux_[a-z_]+)\s*\(', header))
    nm = subprocess.run(['nm', '-D', '--defined-only', os.path.join(BUILD, 'libllmux.so.0')],
                        capture_output=True, check=True).stdout.decode()
    exported = {ln.split()[2].split('@')[0] for ln in nm.splitlines()
                if len(ln.split()) == 3 and ln.split()[1] == 'T'}
    assert exported == declared, (exported ^ declared)


def test_llmux_help_and_llmux_1_name_the_same_options():
    helptext = subprocess.run([LLMUX, '--help'], capture_output=True, check=True).stdout.decode()
    secs = man_sections(MAN1)
    man = roff_text('\n'.join(secs['SYNOPSIS'] + secs['COMMANDS'] + secs['OPTIONS']))
    assert options_in(helptext) == options_in(man), options_in(helptext) ^ options_in(man)
    # The socket fallbacks, in both.
    for path in ('$XDG_RUNTIME_DIR/llmux.sock', '/run/llmux/llmux.sock', '/tmp/llmux-UID/llmux.sock'):
        assert path in helptext and path in roff_text('\n'.join(secs['ENVIRONMENT'])), path


def test_llmuxd_help_and_llmuxd_8_name_the_same_options():
    helptext = subprocess.run([LLMUXD, '--help'], capture_output=True, check=True).stdout.decode()
    secs = man_sections(MAN8)
    man = roff_text('\n'.join(secs['SYNOPSIS'] + secs['OPTIONS']))
    # llmuxd's usage does not list -h/--help itself (daemon/main.c).
    assert options_in(helptext) | {'-h', '--help'} == options_in(man), \
        options_in(helptext) ^ options_in(man)
    # Every option the page names is one llmuxd takes.
    for opt in options_in(man) - {'-c', '--config', '-s', '--socket'}:
        p = subprocess.run([LLMUXD, opt, '-c', '/nonexistent'], capture_output=True, timeout=30)
        assert p.returncode != 2, (opt, p.stderr.decode())


def c_function(src, name):
    """The body of [static] int NAME(...) in a C source."""
    m = re.search(r'\n(?:static )?int %s\(.*?\n}\n' % name, src, re.S)
    assert m, name
    return m.group(0)


def test_llmux_yaml_5_names_the_keys_and_strategies_config_c_reads():
    # The loader is split by section (config.c, routercfg.c, deployment.c,
    # cload.c): read them as one.
    src = '\n'.join(open(os.path.join(ROOT, 'daemon', f)).read()
                    for f in CONFIG_SOURCES)
    secs = man_sections(MAN5)
    desc = secs['DESCRIPTION']

    def subsection(name):
        i = desc.index('.SS ' + name)
        rest = desc[i + 1:]
        j = next((k for k, ln in enumerate(rest) if ln.startswith('.SS ')), len(rest))
        return roff_text('\n'.join(rest[:j]))

    def words(text):
        return set(re.findall(r'[a-z][a-z0-9_]*(?:-[a-z0-9]+)*', text))

    strategies = set(re.findall(r'\{ "([a-z0-9-]+)", ROUTE_', c_function(src, 'read_strategy')))
    assert strategies >= {'simple-shuffle', 'cost-based-routing'}, strategies
    router = subsection('router_settings')
    assert {w for w in words(router) if '-' in w} == strategies, router
    keys = set(re.findall(r'strcmp\(n, "([a-z_]+)"\)', c_function(src, 'routercfg_read_key')))
    keys |= set(re.findall(r'strcmp\(k->s, "([a-z_]+)"\)', c_function(src, 'routercfg_read')))
    keys |= set(re.findall(r'"([a-z_]+)"\) == 0\) \{?\s*$', c_function(src, 'read_strategy_args'),
                           re.M))
    assert keys - words(router) == set(), keys - words(router)
    settings = set(re.findall(r'strcmp\(k->s, "([a-z_]+)"\)', c_function(src, 'read_llmux_settings')))
    entries = set(re.findall(r'^\.TP\n\.B ([a-z_]+)$', '\n'.join(
        desc[desc.index('.SS llmux_settings'):]), re.M))
    assert settings == entries, settings ^ entries
    params = set(re.findall(r'strcmp\(k->s, "([a-z_]+)"\)', c_function(src, 'read_params')))
    assert params - words(subsection('model_list')) == set(), params - words(subsection('model_list'))
    litellm = set(re.findall(r'strcmp\(k->s, "([a-z_]+)"\)', c_function(src, 'read_litellm_settings')))
    assert litellm - {'timeout'} - words(subsection('litellm_settings')) == set(), litellm


def test_llmuxd_8_files_names_the_unit_path_make_install_uses():
    # Where a default `make install` writes the unit, from the Makefile's
    # own commands (make -n runs nothing).
    p = subprocess.run(['make', '-n', '--no-print-directory', '-C', ROOT, 'install-files',
                        'DESTDIR=/DEST'], capture_output=True, timeout=60, check=True)
    units = set(re.findall(r'/DEST(/\S*/)llmux\.service', p.stdout.decode()))
    assert len(units) == 1, units
    files = roff_text('\n'.join(man_sections(MAN8)['FILES']))
    assert units.pop() + 'llmux.service' in files, files


def test_llmux_1_exit_status_is_the_table_of_llmux_help():
    def table(text):
        return {int(n): what for n, what in re.findall(r'^\s*(\d+)\s+([a-z_]+)', text, re.M)}

    helptext = subprocess.run([LLMUX, '--help'], capture_output=True, check=True).stdout.decode()
    helptab = table(helptext[helptext.index('exit status:'):])
    mantab = table(roff_text('\n'.join(man_sections(MAN1)['EXIT STATUS'])))
    assert len(helptab) >= 18 and helptab == mantab, set(helptab.items()) ^ set(mantab.items())
