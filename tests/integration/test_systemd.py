"""test_systemd.py -- llmuxd as a systemd service, tested without systemd
as PID 1 (../shared/SYSTEMD.md section 0): sd_notify datagrams on a socket
the test owns, socket activation with systemd-socket-activate, reload under
load, credentials and key hygiene, peer access by uid/gid (setpriv),
status and Prometheus metrics, journal fields (unshare + a fake journal
socket), the units (make check-units) and make install."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time

from harness import (BUILD, LLMUX, LLMUXD, PYTHON, ROOT, Daemon, Fake, Raw, Skip,
                     openai_config, text_of, user, wait_for)

MOCK_CFG = '''model_list:
  - model_name: fast
    litellm_params: {model: mock/fast, mock_response: "quick"}
  - model_name: other
    litellm_params: {model: mock/other, mock_response: "slow"}
'''
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
CANARY = 'sk-canary-credential-5d1e9a7c3b'
ENV_CANARY = 'sk-canary-environment-8b2f4e6a1c'


# ---- sd_notify ---------------------------------------------------------------

class Notify:
    """The NOTIFY_SOCKET end that systemd would own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='llmux-notify-')
        self.path = os.path.join(self.dir, 'notify')
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.seen = []

    def recv(self, timeout):
        self.s.settimeout(max(timeout, 0.001))
        try:
            m = self.s.recv(65536).decode()
        except socket.timeout:
            return None
        self.seen.append(m)
        return m

    def wait(self, pred, timeout=10, what='a notification'):
        """Datagrams up to and including the first that pred accepts."""
        out, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                continue
            out.append(m)
            if pred(m):
                return out
        raise AssertionError('no %s within %ss; got %r' % (what, timeout, out[-10:]))

    def collect(self, seconds):
        out, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is not None:
                out.append(m)
        return out

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def fields(msg):
    return dict(line.split('=', 1) for line in msg.split('\n') if '=' in line)


def test_notify_ready_watchdog_reload_stopping():
    ns = Notify()
    try:
        t_start = time.monotonic()      # every ping was sent after this
        d = Daemon(MOCK_CFG, env={'NOTIFY_SOCKET': ns.path, 'WATCHDOG_USEC': '200000'})
        try:
            ready = fields(ns.wait(lambda m: 'READY=1' in m, what='READY=1')[-1])
            # one datagram: READY=1 with what is served and where
            assert 'Serving 2 groups (2 deployments, 1 providers) on ' + d.sock in ready['STATUS'], ready
            # WATCHDOG=1 every WATCHDOG_USEC/2 = 100 ms: pings keep coming,
            # and never faster than that. Every ping counted was sent
            # between t_start and t_end, so a slow machine can only make
            # the count smaller: no bound on how long the five take.
            ns.wait(lambda m: ns.seen.count('WATCHDOG=1') >= 5, what='five WATCHDOG=1')
            t_end = time.monotonic()
            n = ns.seen.count('WATCHDOG=1')
            assert n <= (t_end - t_start) / 0.09 + 1, (n, t_end - t_start)
            # SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1
            before = time.monotonic()
            d.signal(signal.SIGHUP)
            got = ns.wait(lambda m: 'READY=1' in m, what='READY=1 after SIGHUP')
            rel = [m for m in got if 'RELOADING=1' in m]
            assert rel, got
            assert got.index(rel[0]) < len(got) - 1
            mono = int(fields(rel[0])['MONOTONIC_USEC'])
            # CLOCK_MONOTONIC, like Python's monotonic clock
            assert abs(mono / 1e6 - before) < 30, (mono, before)
            assert 'STATUS=Serving 2 groups' in got[-1]
            # SIGTERM: STOPPING=1, then a clean exit
            d.signal(signal.SIGTERM)
            stop = ns.wait(lambda m: 'STOPPING=1' in m, what='STOPPING=1')[-1]
            assert 'STATUS=Stopping' in stop
            assert d.proc.wait(10) == 0
        finally:
            d.stop()
        # Controls: no WATCHDOG_USEC, or a WATCHDOG_PID naming another
        # process, means no pings at all.
        for env in ({}, {'WATCHDOG_USEC': '200000', 'WATCHDOG_PID': str(os.getpid())}):
            env['NOTIFY_SOCKET'] = ns.path
            with Daemon(MOCK_CFG, env=env) as d:
                ns.wait(lambda m: 'READY=1' in m, what='READY=1')
                assert 'WATCHDOG=1' not in ns.collect(0.5), env
    finally:
        ns.close()


def test_stalled_notify_reader_never_blocks_the_loop():
    # A NOTIFY_SOCKET nobody reads, with a tiny queue: the watchdog and
    # STATUS= pings must be dropped, not block llmuxd (sendmsg on a full
    # datagram queue blocks unless told not to).
    ns = Notify()
    try:
        ns.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        with Daemon(MOCK_CFG, env={'NOTIFY_SOCKET': ns.path, 'WATCHDOG_USEC': '20000'}) as d:
            # Not a synchronisation: the idle time is the load under test,
            # ~250 pings into a queue of a few that nobody reads.
            time.sleep(2.5)
            c = d.client()
            for i in range(1, 6):
                fr = c.chat(i, {'model': 'mock/echo', 'messages': [{'role': 'user', 'content': 'alive'}]},
                            timeout=5)
                assert fr[-1]['type'] == 'done', fr
    finally:
        ns.close()


def test_notify_status_counts_requests_in_flight():
    ns = Notify()
    try:
        with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:50'),
                                 env={'NOTIFY_SOCKET': ns.path}) as d:
            ns.wait(lambda m: 'READY=1' in m, what='READY=1')
            c = d.client()
            for i in range(1, 6):
                c.request(i, {'model': 'gpt', 'messages': user('x'), 'stream': True})
            # STATUS= is refreshed (each second, when it changed)
            ns.wait(lambda m: '; 5 in flight, 5 requests, 0 errors' in m, timeout=15,
                    what='STATUS= with 5 requests in flight')
            ended = 0
            while ended < 5:
                m = c.recv(30)
                ended += m['type'] in ('done', 'error')
            ns.wait(lambda m: '; 0 in flight, 5 requests, 0 errors' in m, timeout=15,
                    what='STATUS= with nothing in flight')
    finally:
        ns.close()


def test_failed_start_sends_status_and_errno():
    ns = Notify()
    try:
        d = Daemon('model_list: [\n', start=False)
        missing = os.path.join(d.dir, 'missing.yaml')
        for path, errno_ in ((d.config_path, 22), (missing, 2)):
            env = dict(d.env, NOTIFY_SOCKET=ns.path)
            p = subprocess.run([LLMUXD, '-c', path, '-s', d.sock], env=env,
                               capture_output=True, timeout=10)
            assert p.returncode == 1, p
            m = fields(ns.wait(lambda m: 'ERRNO=' in m, what='ERRNO=')[-1])
            assert m['STATUS'].startswith('Failed to start: ' + path), m
            assert m['ERRNO'] == str(errno_), m
        assert 'READY=1' not in ''.join(ns.seen)
    finally:
        ns.close()


def test_refused_reload_shows_in_status_until_fixed():
    ns = Notify()
    try:
        with Daemon(MOCK_CFG, env={'NOTIFY_SOCKET': ns.path}) as d:
            ns.wait(lambda m: 'READY=1' in m, what='READY=1')
            d.write_config(MOCK_CFG + '  - model_name: broken\n    litellm_params:\n      model: mock/x\n'
                           '      weight: -1\n')
            d.signal(signal.SIGHUP)
            st = fields(ns.wait(lambda m: 'READY=1' in m, what='READY=1 after SIGHUP')[-1])['STATUS']
            assert 'last reload refused: %s:9: weight must be' % d.config_path in st, st
            # the old configuration serves
            assert text_of(d.client().chat(1, {'model': 'fast', 'messages': user('x')})) == 'quick'
            # the periodic STATUS= keeps the reason
            st = fields(ns.wait(lambda m: '1 requests' in m, what='a STATUS= refresh')[-1])['STATUS']
            assert 'last reload refused' in st, st
            d.write_config(MOCK_CFG)
            d.signal(signal.SIGHUP)
            st = fields(ns.wait(lambda m: 'READY=1' in m, what='READY=1')[-1])['STATUS']
            assert 'refused' not in st, st
    finally:
        ns.close()


# ---- socket activation ----------------------------------------------------------

def unix_listening(path):
    """True once a socket bound at path listens (/proc/net/unix: the
    __SO_ACCEPTCON flag). The file exists from bind() on, but connect()
    is refused until listen(), which systemd-socket-activate calls after."""
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            col = line.split()
            if len(col) >= 8 and col[7] == path and int(col[3], 16) & 0x10000:
                return True
    return False


def test_socket_activation_serves_first_connection_and_keeps_socket():
    ns = Notify()
    t = tempfile.mkdtemp(prefix='llmux-sa-')
    sock = os.path.join(t, 'llmux.sock')
    cfg = os.path.join(t, 'llmux.yaml')
    with open(cfg, 'w') as f:
        f.write(MOCK_CFG)
    log = open(os.path.join(t, 'log'), 'wb')
    p = subprocess.Popen(['systemd-socket-activate', '-l', sock, '--fdname=llmux',
                          '-E', 'NOTIFY_SOCKET=' + ns.path, LLMUXD, '-c', cfg],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: unix_listening(sock), what='systemd-socket-activate to listen')
        # llmuxd is not running yet: the launcher waits for a connection
        assert os.readlink('/proc/%d/exe' % p.pid).endswith('systemd-socket-activate')
        c = Raw(sock)          # the first connection: the launcher execs llmuxd
        fr = c.chat(1, {'model': 'mock/echo', 'messages': user('activated')})
        assert text_of(fr) == 'activated', fr
        assert os.readlink('/proc/%d/exe' % p.pid) == os.path.realpath(LLMUXD)
        ready = fields(ns.wait(lambda m: 'READY=1' in m, what='READY=1')[-1])
        assert (' on %s; ' % sock) in ready['STATUS'], ready
        q = subprocess.run([LLMUX, '-S', sock, 'status'], capture_output=True, timeout=30)
        st = json.loads(q.stdout)
        assert st['socket_from_systemd'] is True and st['socket'] == sock, st
        c.close()
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
        # systemd owns the socket: llmuxd must not have unlinked it
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        assert b'from systemd' in open(os.path.join(t, 'log'), 'rb').read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
        ns.close()
    # Without an inherited socket llmuxd binds its own, and removes it.
    with Daemon(MOCK_CFG) as d:
        assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o660
    assert not os.path.exists(d.sock)


# ---- reload --------------------------------------------------------------------

def reload_cfg(fake, dep_id, extra=''):
    return '''model_list:
  - model_name: gpt
    litellm_params:
      model: openai/text+slow:50
      api_base: %s/v1
      api_key: sk-test
    model_info: {id: %s}
%s''' % (fake.url, dep_id, extra)


def test_reload_under_load_finishes_streams_on_old_deployments():
    want = None
    with Fake() as f, Daemon(reload_cfg(f, 'old-gpt')) as d:
        c = d.client()
        for i in range(1, 51):
            c.request(i, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        text, ended, started = {}, {}, set()
        # every stream has begun before the reload
        while len(started) < 50:
            m = c.recv(30)
            assert m is not None and m['type'] != 'error', m
            if m['type'] == 'chunk':
                started.add(m['id'])
                text[m['id']] = text.get(m['id'], '') + ''.join(
                    ch['delta'].get('content') or '' for ch in m['body']['choices'])
        d.write_config(reload_cfg(f, 'new-gpt', '''  - model_name: gpt-alias
    litellm_params:
      model: openai/text
      api_base: %s/v1
      api_key: sk-test
    model_info: {id: alias-dep}
''' % f.url))
        d.signal(signal.SIGHUP)
        while len(ended) < 50:
            m = c.recv(60)
            assert m is not None
            if m['type'] == 'chunk':
                text[m['id']] = text.get(m['id'], '') + ''.join(
                    ch['delta'].get('content') or '' for ch in m['body']['choices'])
            elif m['type'] in ('done', 'error'):
                ended[m['id']] = m
        assert all(e['type'] == 'done' for e in ended.values()), \
            [e for e in ended.values() if e['type'] != 'done'][:1]
        # in-flight streams finished on the deployment they started with
        assert {e['deployment'] for e in ended.values()} == {'old-gpt'}
        want = text[1]
        assert len(want) > 20 and all(text[i] == want for i in range(1, 51))
        # the reload did happen while they ran: the new alias works...
        fr = d.client().chat(1, {'model': 'gpt-alias', 'messages': user('x')})
        assert fr[-1]['type'] == 'done' and fr[-1]['deployment'] == 'alias-dep', fr[-1]
        # ...and the group now uses its new deployment
        fr = d.client().chat(2, {'model': 'gpt', 'messages': user('x')})
        assert fr[-1]['deployment'] == 'new-gpt', fr[-1]
        # a broken config is refused with file:line; the old one serves on
        d.write_config(reload_cfg(f, 'broken') + 'llmux_settings:\n  log_level: loud\n')
        p = d.llmux('reload')
        assert p.returncode == 3, p
        assert ('%s:9: log_level must be' % d.config_path).encode() in p.stderr, p.stderr
        fr = d.client().chat(3, {'model': 'gpt-alias', 'messages': user('x')})
        assert fr[-1]['type'] == 'done' and fr[-1]['deployment'] == 'alias-dep', fr[-1]
        st = json.loads(d.llmux('status').stdout)
        assert st['reloads'] == 1 and st['reload_failures'] == 1, st
        assert st['last_reload_error'].startswith(d.config_path + ':9:'), st
        # llmux reload waits for the answer and succeeds once it is fixed
        d.write_config(reload_cfg(f, 'fixed'))
        p = d.llmux('reload')
        assert p.returncode == 0 and p.stdout == b'reloaded\n', p
        st = json.loads(d.llmux('status').stdout)
        assert st['reloads'] == 2 and 'last_reload_error' not in st, st
        assert [x['id'] for x in st['deployments'] if not x['implicit']] == ['fixed'], st


# ---- credentials and key hygiene ------------------------------------------------

def cred_dir(**creds):
    t = tempfile.mkdtemp(prefix='llmux-creds-')
    for name, value in creds.items():
        path = os.path.join(t, name)
        with open(path, 'w') as f:
            f.write(value)
        os.chmod(path, 0o400)
    return t


def sent_keys(fake):
    return [{k.lower(): v for k, v in r['headers'].items()}.get('authorization') for r in fake.requests()]


def test_credentials_reach_the_provider_and_nothing_else():
    creds = cred_dir(openai=CANARY + '\n')
    with Fake() as f:
        with Daemon(openai_config(f, key='credential/openai'),
                    env={'CREDENTIALS_DIRECTORY': creds}) as d:
            c = Raw(d.sock)
            raw, orig = [], c.recv

            def rec(timeout=30):
                m = orig(timeout)
                raw.append(json.dumps(m))
                return m
            c.recv = rec
            for i, scn in enumerate(['text', 'err-401', 'err-429', 'instream-error', 'reset'], 1):
                f.queue(scn)
                c.chat(i, {'model': 'gpt', 'messages': user('x'), 'stream': i % 2 == 0})
            outs = [d.llmux('status'), d.llmux('metrics'), d.llmux('models')]
            # the key reached the provider, with its trailing newline stripped
            assert 'Bearer ' + CANARY in sent_keys(f), sent_keys(f)
            assert len(raw) >= 5, raw
            for s in raw:
                assert CANARY not in s
            for p in outs:
                assert p.returncode == 0, p
                assert CANARY.encode() not in p.stdout + p.stderr
            assert CANARY not in d.log()
            with open('/proc/%d/environ' % d.proc.pid, 'rb') as e:
                assert CANARY.encode() not in e.read()   # never was there
            # status says a key is there, and nothing of it: a fingerprint
            # would confirm a guessed key
            dep = json.loads(outs[0].stdout)['deployments'][0]
            assert dep['has_key'] and 'key_fingerprint' not in dep, dep
    # An empty credential, or a symlink to one, is refused at start with
    # file:line; a missing one is a warning (the deployment answers EAUTH).
    link = cred_dir(real=CANARY)
    os.symlink(os.path.join(link, 'real'), os.path.join(link, 'openai'))
    cfg = ('model_list:\n  - model_name: g\n    litellm_params:\n'
           '      model: openai/x\n      api_key: credential/openai\n')
    for directory, rc, want in ((cred_dir(openai='\n'), 1, 'the file is empty'),
                                (link, 1, 'is a symbolic link'),
                                (cred_dir(), 0, 'No such file')):
        d = Daemon(cfg, env={'CREDENTIALS_DIRECTORY': directory}, start=False)
        p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], env=d.env,
                           capture_output=True, timeout=10)
        assert p.returncode == rc, p
        assert ('%s:5: api_key: credential/openai: %s' % (d.config_path, want)).encode() \
            in p.stderr, p.stderr
        assert CANARY.encode() not in p.stderr


def skip_under_valgrind(what):
    """/proc of a process run by valgrind shows valgrind's memory and
    environment, not llmuxd's: such checks mean nothing there."""
    if os.environ.get('LLMUX_VALGRIND'):
        raise Skip('under valgrind %s is valgrind\'s, not llmuxd\'s' % what)


def test_environment_keys_are_wiped_from_proc_environ():
    skip_under_valgrind('/proc/PID/environ')
    with Fake() as f:
        cfg = openai_config(f, key='os.environ/MY_PROVIDER_KEY')
        with Daemon(cfg, env={'MY_PROVIDER_KEY': ENV_CANARY, 'GROQ_API_KEY': ENV_CANARY + 'g',
                              'LLMUX_TEST_PLAIN': 'plain-value-stays'}) as d:
            with open('/proc/%d/environ' % d.proc.pid, 'rb') as e:
                env = e.read()
            # root reads the environment: the key variables are blank...
            assert ENV_CANARY.encode() not in env
            assert b'MY_PROVIDER_KEY=\0' in env and b'GROQ_API_KEY=\0' in env
            # ...and nothing else was touched
            assert b'LLMUX_TEST_PLAIN=plain-value-stays\0' in env
            # the daemon still has the key, also after a reload (which
            # resolves os.environ/ again)
            for i in (1, 2):
                fr = d.client().chat(i, {'model': 'gpt', 'messages': user('x')})
                assert fr[-1]['type'] == 'done', fr
                assert sent_keys(f)[-1] == 'Bearer ' + ENV_CANARY
                d.signal(signal.SIGHUP)
                wait_for(lambda: d.log().count('reloaded ') == i, what='the reload')
            assert 'moved 2 key variables out of' in d.log(), d.log()
            assert ENV_CANARY not in d.log()


def test_same_uid_process_cannot_read_daemon_environ():
    """PR_SET_DUMPABLE 0: the daemon runs as nobody, and another process of
    nobody cannot read its /proc/PID/environ (or memory); a plain process
    of nobody, as a control, can."""
    t = tempfile.mkdtemp(prefix='llmux-nobody-')
    os.chmod(t, 0o755)
    os.chown(t, 65534, 65534)
    cfg = os.path.join(t, 'llmux.yaml')
    with open(cfg, 'w') as f:
        f.write(MOCK_CFG)
    os.chmod(cfg, 0o644)
    sock = os.path.join(t, 'llmux.sock')
    env = dict(os.environ, OPENAI_API_KEY=ENV_CANARY)
    log = open(os.path.join(t, 'log'), 'wb')
    d = subprocess.Popen(NOBODY + [LLMUXD, '-c', cfg, '-s', sock], env=env, stdout=log,
                         stderr=subprocess.STDOUT)
    ctl = subprocess.Popen(NOBODY + ['sleep', '60'], env=env)
    try:
        wait_for(lambda: os.path.exists(sock), what='llmuxd as nobody to listen')
        read = lambda pid: subprocess.run(NOBODY + ['cat', '/proc/%d/environ' % pid],
                                          capture_output=True, timeout=10)
        p = read(ctl.pid)
        assert p.returncode == 0 and ENV_CANARY.encode() in p.stdout, p    # the control
        p = read(d.pid)
        assert p.returncode != 0 and b'Permission denied' in p.stderr, p
        assert ENV_CANARY.encode() not in p.stdout
        p = subprocess.run(NOBODY + ['cat', '/proc/%d/mem' % d.pid], capture_output=True, timeout=10)
        assert p.returncode != 0, p
        # a non-dumpable process's /proc files belong to root
        assert os.stat('/proc/%d/environ' % d.pid).st_uid == 0
        assert os.stat('/proc/%d/environ' % ctl.pid).st_uid == 65534
        with open('/proc/%d/limits' % d.pid) as lim:
            assert re.search(r'Max core file size\s+0\s+0', lim.read())
    finally:
        for x in (d, ctl):
            x.kill()
            x.wait()
        log.close()


def memory_hits(pid, needle):
    """(address, VmFlags) of every copy of needle in pid's memory (root)."""
    maps, cur = [], None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) ', line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), line.split()[5:]]
            elif line.startswith('VmFlags:') and cur:
                maps.append((cur, line.split()[1:]))
    hits = []
    fd = os.open('/proc/%d/mem' % pid, os.O_RDONLY)
    try:
        for (a, b, perms, name), flags in maps:
            if 'r' not in perms or name in (['[vvar]'], ['[vsyscall]']):
                continue
            try:
                data = os.pread(fd, b - a, a)
            except OSError:
                continue
            i = data.find(needle)
            while i >= 0:
                hits.append((a + i, flags))
                i = data.find(needle, i + 1)
    finally:
        os.close(fd)
    return hits


def sanitized():
    return os.environ.get('LLMUX_BUILD', '').rstrip('/').endswith('build-san')


def test_keys_live_only_in_locked_undumpable_memory_and_are_wiped():
    skip_under_valgrind('/proc/PID/mem')
    # ASan's shadow memory makes /proc/PID/mem terabytes wide; the normal
    # build runs this check.
    if sanitized():
        raise Skip('under ASan /proc/PID/mem is terabytes of shadow memory')
    old, new = CANARY + '-old', CANARY + '-new'
    creds = cred_dir(openai=old + '\n')
    with Fake() as f, Daemon(openai_config(f, key='credential/openai'),
                             env={'CREDENTIALS_DIRECTORY': creds,
                                  'ANTHROPIC_API_KEY': ENV_CANARY}) as d:
        for i in range(1, 4):
            fr = d.client().chat(i, {'model': 'gpt', 'messages': user('x'), 'stream': i == 2})
            assert fr[-1]['type'] == 'done', fr
        assert sent_keys(f)[-1] == 'Bearer ' + old
        # Every copy of a key (the credential, the environment key and its
        # sealed variable) is in locked (lo), never-dumped (dd) memory:
        # libcurl's copies of the request were wiped when it freed them.
        for key in (old, ENV_CANARY):
            hits = memory_hits(d.proc.pid, key.encode())
            assert hits, key
            for addr, flags in hits:
                assert 'lo' in flags and 'dd' in flags, (key, hex(addr), flags)
        # Rotate the credential: after the reload the old key is nowhere.
        os.chmod(os.path.join(creds, 'openai'), 0o600)
        with open(os.path.join(creds, 'openai'), 'w') as c:
            c.write(new)
        assert d.llmux('reload').returncode == 0
        fr = d.client().chat(9, {'model': 'gpt', 'messages': user('x')})
        assert fr[-1]['type'] == 'done' and sent_keys(f)[-1] == 'Bearer ' + new
        assert memory_hits(d.proc.pid, old.encode()) == []
        hits = memory_hits(d.proc.pid, new.encode())
        assert hits and all('lo' in fl and 'dd' in fl for _, fl in hits), hits


# ---- access -------------------------------------------------------------------

# Connects, says hello, prints every frame until the daemon closes.
RAW_FIRST_FRAMES = r'''
import json, socket, struct, sys, msgpack
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
b = msgpack.packb({'type': 'hello', 'version': 1}, use_bin_type=True)
try:
    s.sendall(struct.pack('>I', len(b)) + b)
except (BrokenPipeError, ConnectionResetError):
    pass                           # refused before the hello: still read
data = b''
while True:
    try:
        d = s.recv(65536)
    except ConnectionResetError:   # it closed with our hello unread
        break
    if not d:
        break
    data += d
out = []
while len(data) >= 4:
    n = struct.unpack('>I', data[:4])[0]
    out.append(msgpack.unpackb(data[4:4 + n], raw=False))
    data = data[4 + n:]
print(json.dumps(out))
'''


def shared_daemon(cfg):
    """A daemon whose socket other uids can reach (0755 dir, 0666 socket)."""
    d = Daemon(cfg)
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o666)
    return d


def as_user(d, uid, gid, *args, groups=None):
    who = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid]
    who += ['--groups=' + ','.join(map(str, groups))] if groups else ['--clear-groups']
    return subprocess.run(who + [LLMUX, '-S', d.sock] + list(args), capture_output=True, timeout=30)


def test_other_uid_refused_unless_allowed():
    base = MOCK_CFG + 'llmux_settings:\n  allow_users: [root]\n'
    d = shared_daemon(base)
    try:
        p = as_user(d, 65534, 65534, 'chat', '-m', 'fast', 'hi')
        assert p.returncode == 5 and b'EPERMISSION' in p.stderr, p
        assert re.search(r'refused connection from pid \d+ uid 65534 gid 65534', d.log()), d.log()
        # the raw protocol: a permission_denied frame, then the close
        p = subprocess.run(NOBODY + [PYTHON, '-c', RAW_FIRST_FRAMES, d.sock],
                           capture_output=True, timeout=30)
        frames = json.loads(p.stdout)
        assert [f['type'] for f in frames] == ['error'], (frames, p.stderr)
        assert frames[0]['error']['type'] == 'permission_denied', frames
        # root (implicitly) is served
        assert d.llmux('chat', '-m', 'fast', 'hi').returncode == 0
        # allowed once the configuration says so: by uid...
        d.write_config(MOCK_CFG + 'llmux_settings:\n  allow_users: [root, 65534]\n')
        assert d.llmux('reload').returncode == 0
        p = as_user(d, 65534, 65534, 'chat', '-m', 'fast', 'hi')
        assert p.returncode == 0 and p.stdout == b'quick\n', p
        # ...or by a supplementary group (SO_PEERGROUPS)
        p = as_user(d, 4242, 4242, 'chat', '-m', 'fast', 'hi', groups=[4243])
        assert p.returncode == 5, p
        d.write_config(MOCK_CFG + 'llmux_settings:\n  allow_users: [65534]\n  allow_groups: [4243]\n')
        assert d.llmux('reload').returncode == 0
        p = as_user(d, 4242, 4242, 'chat', '-m', 'fast', 'hi', groups=[4243])
        assert p.returncode == 0, p
        # reload is for admins: not for an allowed user...
        p = as_user(d, 65534, 65534, 'reload')
        assert p.returncode == 5 and b'admin' in p.stderr, p
        assert 'refused reload from pid' in d.log() and 'uid 65534' in d.log()
        # ...unless in admin_group
        d.write_config(MOCK_CFG + 'llmux_settings:\n  allow_users: [65534]\n'
                       '  allow_groups: [4243]\n  admin_group: 4243\n')
        assert d.llmux('reload').returncode == 0
        assert as_user(d, 65534, 65534, 'reload').returncode == 5
        p = as_user(d, 4242, 4242, 'reload', groups=[4243])
        assert p.returncode == 0 and p.stdout == b'reloaded\n', p
    finally:
        d.stop()


# ---- status and metrics ---------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_prometheus(text):
    """Checks the text exposition format and returns {family: type},
    [(name, labels, value)]."""
    types, helps, samples = {}, set(), []
    assert text.endswith('\n')
    for line in text.splitlines():
        if line.startswith('# HELP '):
            helps.add(line.split()[2])
        elif line.startswith('# TYPE '):
            _, _, name, typ = line.split()
            assert typ in ('counter', 'gauge', 'histogram', 'summary', 'untyped'), line
            assert name not in types, 'TYPE twice: ' + line
            types[name] = typ
        else:
            m = SAMPLE.match(line)
            assert m, 'not a sample line: %r' % line
            name, labels, value = m.group(1), m.group(2) or '', float(m.group(3))
            lab = dict(LABEL.findall(labels))
            assert ','.join('%s="%s"' % kv for kv in LABEL.findall(labels)) == labels, line
            fam = re.sub(r'_(bucket|sum|count)$', '', name) if re.sub(
                r'_(bucket|sum|count)$', '', name) in types else name
            assert fam in types and fam in helps, 'no # TYPE/# HELP before ' + line
            samples.append((name, lab, value))
    return types, samples


def test_status_and_metrics():
    with Fake() as f, Daemon(openai_config(f, extra='    model_info: {id: dep-a}\n')) as d:
        for i, scn in enumerate(['text', 'err-429', 'err-500'], 1):
            f.queue(scn)
            d.client().chat(i, {'model': 'gpt', 'messages': user('x')})
        st = json.loads(d.llmux('status').stdout)
        assert st['version'] == '0.1.0' and st['uptime_s'] >= 0 and st['pid'] == d.proc.pid
        assert st['config'] == d.config_path and st['socket'] == d.sock
        assert st['socket_from_systemd'] is False
        assert st['inflight'] == 0 and st['requests'] == 3 and st['errors'] == 2
        assert st['groups'] == {'gpt': ['dep-a']}, st['groups']
        dep = st['deployments'][0]
        assert dep['id'] == 'dep-a' and dep['provider'] == 'openai'
        h = dep['health']
        assert h['state'] == 'failing' and h['requests'] == 3 and h['errors'] == 2, h
        assert h['consecutive_failures'] == 2 and h['last_error'] == 'upstream_unavailable', h
        assert 'cooldown_s' in h and 'inflight' in h, h
        f.queue('text')
        d.client().chat(9, {'model': 'gpt', 'messages': user('x')})
        h = json.loads(d.llmux('status').stdout)['deployments'][0]['health']
        # a lone deployment is never benched (router.c): plainly ok again
        assert h['consecutive_failures'] == 0 and h['state'] == 'ok', h

        p = d.llmux('metrics')
        assert p.returncode == 0, p
        types, samples = parse_prometheus(p.stdout.decode())
        assert types['llmux_requests_total'] == 'counter'
        assert types['llmux_request_duration_seconds'] == 'histogram'
        assert types['llmux_overhead_seconds'] == 'histogram'
        assert types['llmux_inflight_requests'] == 'gauge'

        def value(name, **lab):
            vals = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in lab.items())]
            assert len(vals) == 1, (name, lab, vals)
            return vals[0]
        ours = dict(group='gpt', deployment='dep-a', provider='openai')
        assert value('llmux_requests_total', **ours) == 4
        assert value('llmux_errors_total', type='rate_limit', **ours) == 1
        assert value('llmux_errors_total', type='upstream_unavailable', **ours) == 1
        assert value('llmux_tokens_total', kind='completion', **ours) > 0
        assert value('llmux_inflight_requests') == 0
        for h in ('llmux_request_duration_seconds', 'llmux_overhead_seconds'):
            buckets = [(l['le'], v) for n, l, v in samples
                       if n == h + '_bucket' and l['deployment'] == 'dep-a']
            counts = [v for _, v in buckets]
            assert counts == sorted(counts) and buckets[-1][0] == '+Inf', buckets
            assert buckets[-1][1] == value(h + '_count', **ours) == 4
            assert value(h + '_sum', **ours) > 0
        assert 'sk-test-key' not in p.stdout.decode()


# ---- logging -------------------------------------------------------------------

JOURNAL_HELPER = r'''
import json, os, socket, struct, subprocess, sys, time
llmuxd, llmux, tmp = sys.argv[1:4]
subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/run/systemd'], check=True)
os.makedirs('/run/systemd/journal')
j = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
j.bind('/run/systemd/journal/socket')
j.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

def parse(data):
    out, i = {}, 0
    while i < len(data):
        nl = data.index(b'\n', i)
        line = data[i:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            i = nl + 1
        else:
            k, n = line, struct.unpack('<Q', data[nl + 1:nl + 9])[0]
            v, i = data[nl + 9:nl + 9 + n], nl + 9 + n + 1
        out[k.decode()] = v.decode('utf-8', 'replace')
    return out

def run(name, match):
    sock = os.path.join(tmp, name + '.sock')
    errpath = os.path.join(tmp, name + '.stderr')
    err = open(errpath, 'wb')
    st = os.fstat(err.fileno())
    env = dict(os.environ, JOURNAL_STREAM='%d:%d' % (st.st_dev, st.st_ino) if match else '1:1')
    p = subprocess.Popen([llmuxd, '-c', os.path.join(tmp, 'llmux.yaml'), '-s', sock],
                         stderr=err, env=env)
    for _ in range(1000):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    env['LLMUX_SOCKET'] = sock
    subprocess.run([llmux, 'chat', '-m', 'mock/echo', 'secret words'], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    p.terminate()
    p.wait(10)
    err.close()
    entries = []
    j.settimeout(0.5)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(j, 1 << 20, 4)
        except socket.timeout:
            break
        for fd in fds:            # big entries come as a memfd
            data = os.pread(fd, 1 << 20, 0)
            os.close(fd)
        entries.append(parse(data))
    return {'entries': entries, 'stderr': open(errpath, 'rb').read().decode()}

print(json.dumps({'journal': run('journal', True), 'stderr': run('plain', False)}))
'''


def test_journal_fields_when_stderr_is_the_journal():
    if subprocess.run(['unshare', '-m', '--propagation', 'private', 'true'],
                      capture_output=True).returncode != 0:
        raise Skip('unshare -m is not permitted here (needs root)')
    t = tempfile.mkdtemp(prefix='llmux-journal-')
    with open(os.path.join(t, 'llmux.yaml'), 'w') as f:
        f.write(MOCK_CFG)
    p = subprocess.run(['unshare', '-m', '--propagation', 'private', PYTHON, '-c',
                        JOURNAL_HELPER, LLMUXD, LLMUX, t], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    # stderr is the journal: structured entries, nothing on stderr
    entries = out['journal']['entries']
    reqs = [e for e in entries if e.get('LLMUX_REQUEST')]
    assert len(reqs) == 1, entries
    r = reqs[0]
    assert r['PRIORITY'] == '6' and r['SYSLOG_IDENTIFIER'] == 'llmuxd', r
    assert r['LLMUX_UID'] == str(os.getuid()) and int(r['LLMUX_PID']) > 0, r
    assert r['LLMUX_MODEL'] == 'mock/echo' and r['LLMUX_PROVIDER'] == 'mock', r
    assert r['LLMUX_DEPLOYMENT'] == 'mock/echo' and r['LLMUX_STATUS'] == 'ok', r
    assert r['LLMUX_TOKENS'] == '2+2', r
    assert int(r['LLMUX_LATENCY_US']) >= int(r['LLMUX_OVERHEAD_US']) >= 0, r
    assert r['MESSAGE'].startswith('request LLMUX_REQUEST=1 '), r
    notice = [e for e in entries if e.get('MESSAGE', '').startswith('listening on ')]
    assert notice and notice[0]['PRIORITY'] == '5' and 'CODE_FILE' in notice[0], entries
    assert 'secret words' not in json.dumps(entries)      # never message content
    assert out['journal']['stderr'] == '', out['journal']['stderr']
    # JOURNAL_STREAM that does not match stderr: <N> lines on stderr only
    assert out['stderr']['entries'] == [], out['stderr']['entries']
    lines = out['stderr']['stderr'].splitlines()
    assert any(l.startswith('<6>request LLMUX_REQUEST=1 ') and 'LLMUX_STATUS=ok' in l for l in lines), lines
    assert any(l.startswith('<5>listening on ') for l in lines), lines


def test_stderr_lines_cannot_be_forged():
    with Daemon(MOCK_CFG) as d:
        fr = d.client().chat(1, {'model': 'nope\n<3>forged line', 'messages': user('x')})
        assert fr[-1]['type'] == 'error'
        wait_for(lambda: 'LLMUX_REQUEST=1 ' in d.log(), what='the request log line')
        lines = d.log().splitlines()
        assert not any(l.startswith('<3>forged') for l in lines), lines
        assert any('LLMUX_MODEL=nope\\x0a<3>forged line' in l for l in lines), lines
        # every control byte, wherever it falls among the eight-byte runs
        # put_stderr copies at once; UTF-8 passes as it is
        for i, name in enumerate(['abcdefg\r<3>x', 'abcdefgh\x7fé\x1b[31m', 'é' * 9 + '\t']):
            d.client().chat(i + 2, {'model': name, 'messages': user('x')})
            want = name.replace('\r', '\\x0d').replace('\x7f', '\\x7f') \
                       .replace('\x1b', '\\x1b').replace('\t', '\\x09')
            wait_for(lambda: 'LLMUX_REQUEST=%d ' % (i + 2) in d.log(), what='the log line')
            assert 'LLMUX_MODEL=%s LLMUX_GROUP' % want in d.log(), (want, d.log())
        assert not any(c in d.log().replace('\n', '') for c in '\r\x7f\x1b\t'), d.log()


def read_pty(fd):
    """What was written to the pty's other end, until it closed."""
    out = b''
    while True:
        try:
            d = os.read(fd, 65536)
        except OSError:         # EIO: the last writer closed the slave
            return out
        if not d:
            return out
        out += d


def test_terminal_log_lines_read_words_pipes_keep_prefixes():
    import pty
    cfg = 'model_list:\n  - model_name: a\n    litellm_params: {model: mock/x}\nfoo: 1\n'
    d = Daemon(cfg, start=False)
    want = ('%s:4: unknown top-level key "foo" (ignored), LiteLLM does not define it '
            'either' % d.config_path)
    # stderr is a terminal: "warning: ", no "<4>"
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([LLMUXD, '-c', d.config_path, '--check'], env=d.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave)
        os.close(slave)
        slave = None
        text = read_pty(master).decode().replace('\r\n', '\n')
        assert p.wait(10) == 0, text
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert text == 'warning: %s\n' % want, text
    # a pipe (and so the journal's stdout stream): the "<N>" prefix stays
    p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], env=d.env,
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p
    assert p.stderr.decode() == '<4>%s\n' % want, p.stderr


# ---- units and install ----------------------------------------------------------

def make(*args):
    """make in the source tree against the build under test, never
    rebuilding it (the suite tests what was built)."""
    b = os.path.abspath(BUILD)
    cmd = ['make', '--no-print-directory', '-C', ROOT, 'B=' + b,
           '-o', os.path.join(b, 'llmuxd'), '-o', os.path.join(b, 'llmux')] + list(args)
    return subprocess.run(cmd, capture_output=True, timeout=120)


def test_check_units_verifies_and_scores():
    p = make('check-units')
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    m = re.search(rb'Overall exposure level for llmux.service: (\d+\.\d+)', p.stdout)
    assert m and float(m.group(1)) <= 2.0, p.stdout
    # the check can fail: a misspelt key, and a service without sandbox
    t = tempfile.mkdtemp(prefix='llmux-units-')
    shutil.copy(os.path.join(ROOT, 'systemd', 'llmux.socket'), t)
    with open(os.path.join(ROOT, 'systemd', 'llmux.service')) as f:
        unit = f.read()
    with open(os.path.join(t, 'llmux.service'), 'w') as f:
        f.write(unit.replace('ProtectHome=yes', 'ProtectHomee=yes'))
    p = make('check-units', 'UNITS_SRC=' + t)
    assert p.returncode != 0 and b'ProtectHomee' in p.stdout, p.stdout
    with open(os.path.join(t, 'llmux.service'), 'w') as f:
        f.write(unit.split('# Sandbox:')[0].replace('DynamicUser=yes', '') + '\n[Install]\nWantedBy=multi-user.target\n')
    p = make('check-units', 'UNITS_SRC=' + t)
    assert p.returncode != 0 and b'exposure above 2.0' in p.stdout, p.stdout
    # the sysusers and tmpfiles snippets apply to an empty root
    root = tempfile.mkdtemp(prefix='llmux-root-')
    os.makedirs(os.path.join(root, 'etc'))
    subprocess.run(['systemd-sysusers', '--root=' + root,
                    os.path.join(ROOT, 'systemd', 'sysusers.d', 'llmux.conf')],
                   check=True, capture_output=True)
    with open(os.path.join(root, 'etc', 'group')) as f:
        assert re.search(r'^llmux:x:\d+:$', f.read(), re.M)
    subprocess.run(['systemd-tmpfiles', '--root=' + root, '--create',
                    os.path.join(ROOT, 'systemd', 'tmpfiles.d', 'llmux.conf')],
                   check=True, capture_output=True)
    assert stat.S_IMODE(os.stat(os.path.join(root, 'etc', 'credstore')).st_mode) == 0o700


def test_make_install_into_destdir():
    dest = tempfile.mkdtemp(prefix='llmux-dest-')
    p = make('install-files', 'DESTDIR=' + dest, 'PREFIX=/usr')
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    u = lambda *a: os.path.join(dest, 'usr', *a)
    for path, mode in ((u('sbin', 'llmuxd'), 0o755), (u('bin', 'llmux'), 0o755),
                       (u('lib', 'libllmux.so.0'), 0o755), (u('lib', 'libllmux.a'), 0o644),
                       (u('include', 'llmux.h'), 0o644), (u('include', 'llmux-errno.h'), 0o644),
                       (u('lib', 'pkgconfig', 'llmux.pc'), 0o644),
                       (u('lib', 'systemd', 'system', 'llmux.service'), 0o644),
                       (u('lib', 'systemd', 'system', 'llmux.socket'), 0o644),
                       (u('lib', 'sysusers.d', 'llmux.conf'), 0o644),
                       (u('lib', 'tmpfiles.d', 'llmux.conf'), 0o644),
                       (u('share', 'man', 'man8', 'llmuxd.8'), 0o644),
                       (u('share', 'man', 'man1', 'llmux.1'), 0o644),
                       (u('share', 'man', 'man3', 'libllmux.3'), 0o644),
                       (u('share', 'man', 'man5', 'llmux.yaml.5'), 0o644),
                       (u('share', 'llmux', 'prices.json'), 0o644),
                       (os.path.join(dest, 'etc', 'llmux', 'llmux.yaml'), 0o644)):
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, (path, oct(os.stat(path).st_mode))
    assert os.readlink(u('lib', 'libllmux.so')) == 'libllmux.so.0'
    with open(u('lib', 'systemd', 'system', 'llmux.service')) as f:
        unit = f.read()
    assert 'ExecStart=/usr/sbin/llmuxd --config=${CONFIGURATION_DIRECTORY}/llmux.yaml' in unit
    assert 'ExecReload=/usr/bin/llmux -S /run/llmux/llmux.sock reload' in unit
    # the man pages render without a single groff warning
    for page in ('man8/llmuxd.8', 'man1/llmux.1', 'man3/libllmux.3', 'man5/llmux.yaml.5'):
        g = subprocess.run(['groff', '-man', '-ww', '-z', '-Tutf8', u('share', 'man', page)],
                           capture_output=True, timeout=30)
        assert g.returncode == 0 and g.stderr == b'', (page, g.stderr)
    # an existing configuration is kept
    conf = os.path.join(dest, 'etc', 'llmux', 'llmux.yaml')
    with open(conf, 'w') as f:
        f.write('# mine\n')
    p = make('install-files', 'DESTDIR=' + dest, 'PREFIX=/usr')
    assert p.returncode == 0 and b'keeping the existing' in p.stdout, p
    assert open(conf).read() == '# mine\n'
    # PREFIX reaches the units and the pkg-config file
    p = make('install-files', 'DESTDIR=' + dest, 'PREFIX=/opt/lx')
    assert p.returncode == 0, p
    with open(os.path.join(dest, 'opt', 'lx', 'lib', 'systemd', 'system', 'llmux.service')) as f:
        assert 'ExecStart=/opt/lx/sbin/llmuxd ' in f.read()
    # a program built from the installed header, library and .pc file
    src = os.path.join(dest, 'app.c')
    with open(src, 'w') as f:
        f.write('#include <llmux.h>\n#include <stdio.h>\n#include <stdlib.h>\n'
                'int main(void) { int code; char *a = llmux_predict("mock/echo", "installed", NULL, &code);\n'
                '  if (!a) { fprintf(stderr, "%s\\n", llmux_strerror(code)); return 1; }\n'
                '  puts(a); free(a); return 0; }\n')
    env = dict(os.environ, PKG_CONFIG_PATH=u('lib', 'pkgconfig'), PKG_CONFIG_SYSROOT_DIR=dest)
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'llmux'], env=env,
                           capture_output=True, check=True).stdout.decode().split()
    assert '-I%s' % u('include') in flags and '-L%s' % u('lib') in flags, flags
    app = os.path.join(dest, 'app')
    # An ASan libllmux needs the ASan runtime in the program too.
    san = ['-fsanitize=address,undefined'] if sanitized() else []
    subprocess.run(['cc', '-o', app, src] + flags + san, check=True, capture_output=True)
    with Daemon(MOCK_CFG) as d:
        r = subprocess.run([app], env=dict(os.environ, LD_LIBRARY_PATH=u('lib'), LLMUX_SOCKET=d.sock),
                           capture_output=True, timeout=30)
        assert r.returncode == 0 and r.stdout == b'installed\n', r
        ldd = subprocess.run(['ldd', app], env=dict(os.environ, LD_LIBRARY_PATH=u('lib')),
                             capture_output=True).stdout
        assert u('lib', 'libllmux.so.0').encode() in ldd, ldd
    # uninstall removes all of it but the configuration
    p = make('uninstall', 'DESTDIR=' + dest, 'PREFIX=/usr')
    assert p.returncode == 0, p
    left = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(dest, 'usr')) for f in fs]
    assert left == [], left
    assert open(conf).read() == '# mine\n'


def test_status_shows_router_cooldowns():
    with Fake() as f:
        cfg = '''model_list:
  - model_name: gpt
    litellm_params: {model: openai/text, api_base: %s/v1, api_key: sk-test}
    model_info: {id: dep-a}
  - model_name: gpt
    litellm_params: {model: openai/text, api_base: %s/v1, api_key: sk-test}
    model_info: {id: dep-b}
router_settings:
  cooldown_time: 60
''' % (f.url, f.url)
        with Daemon(cfg) as d:
            f.queue('err-429')
            fr = d.client().chat(1, {'model': 'gpt', 'messages': user('x')})
            assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'rate_limit', fr
            st = json.loads(d.llmux('status').stdout)
            health = {x['id']: x['health'] for x in st['deployments']}
            benched = [k for k, h in health.items() if h['state'] == 'cooldown']
            assert benched == [fr[-1]['error']['deployment']], health
            h = health[benched[0]]
            assert 0 < h['cooldown_s'] <= 60 and h['last_error'] == 'rate_limit', h
            other = health[({'dep-a', 'dep-b'} - set(benched)).pop()]
            assert other['state'] == 'unknown' and other['cooldown_s'] == 0, other
