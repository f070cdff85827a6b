"""test_setup.py -- the set-up a new user meets: `make deps` with its
packages missing (one line when they cannot be installed, apt-get only for
what is missing, no root when nothing is), and the /tmp/llmux-UID folder
that llmuxd takes without $XDG_RUNTIME_DIR (refused unless it is ours).

The package tests run make with a PATH of fakes (dpkg-query, id, sudo,
apt-get) and nothing else but sed, find and grep, so no real package is
ever touched.
"""

import os
import shutil
import signal
import subprocess
import tempfile

from harness import BUILD, LLMUXD, ROOT, wait_for

MAKE = shutil.which('make')
MOCK_CFG = '''model_list:
  - model_name: fast
    litellm_params: {model: mock/fast, mock_response: "quick"}
'''

# Answers as dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' does: a
# line per installed package, none for the ones in $FAKE_MISSING.
FAKE_DPKG_QUERY = '''#!/bin/sh
for a in "$@"; do
  case "$a" in -*) continue;; esac
  case " $FAKE_MISSING " in *" $a "*) ;; *) echo "ii $a";; esac
done
'''
FAKE_ID = '#!/bin/sh\necho 1000\n'
# Each records its command line in $FAKE_LOG.
FAKE_SUDO = '#!/bin/sh\necho "sudo $*" >> "$FAKE_LOG"\nexec "$@"\n'
FAKE_APT_GET = '#!/bin/sh\necho "apt-get $*" >> "$FAKE_LOG"\n'


def fake_bin(with_sudo):
    """A folder of fakes to be the whole PATH: not root (id -u says
    1000), and sudo only when asked for."""
    d = tempfile.mkdtemp(prefix='llmux-fakebin-')
    fakes = {'dpkg-query': FAKE_DPKG_QUERY, 'id': FAKE_ID, 'apt-get': FAKE_APT_GET}
    if with_sudo:
        fakes['sudo'] = FAKE_SUDO
    for name, text in fakes.items():
        with open(os.path.join(d, name), 'w') as f:
            f.write(text)
        os.chmod(os.path.join(d, name), 0o755)
    for tool in ('sed', 'find', 'grep'):   # what the Makefile may run besides
        os.symlink(shutil.which(tool), os.path.join(d, tool))
    return d


def make_with_fakes(goal, missing, with_sudo):
    """make GOAL in the source tree against an empty build folder, with
    `missing` not installed; returns (process, what the build folder
    holds, the sudo and apt-get command lines)."""
    bin_dir = fake_bin(with_sudo)
    build = tempfile.mkdtemp(prefix='llmux-nobuild-')
    log = os.path.join(bin_dir, 'log')
    env = {'PATH': bin_dir, 'HOME': bin_dir, 'FAKE_MISSING': ' '.join(missing),
           'FAKE_LOG': log}
    try:
        p = subprocess.run([MAKE, '--no-print-directory', '-C', ROOT, 'B=' + build, goal],
                           env=env, capture_output=True, text=True, timeout=60)
        calls = open(log).read().splitlines() if os.path.exists(log) else []
        return p, os.listdir(build), calls
    finally:
        shutil.rmtree(bin_dir)
        shutil.rmtree(build)


def test_missing_package_without_root_or_sudo_stops_with_one_line():
    """The first thing a new user meets: `make` as a user with a package
    missing and no way to install it is one line naming the package, and
    nothing is compiled (it used to be a page of linker errors)."""
    for goal in ('all', 'test', 'run', 'deps'):
        p, built, calls = make_with_fakes(goal, ['libjansson-dev', 'valgrind'], with_sudo=False)
        assert p.returncode != 0, (goal, p)
        lines = p.stderr.splitlines()
        assert len(lines) == 1, (goal, p.stderr)
        assert 'libjansson-dev valgrind' in lines[0] and 'not root' in lines[0], lines
        assert 'libuv1-dev' not in lines[0], lines          # only what is missing
        assert built == [] and calls == [], (goal, built, calls)


def test_missing_package_is_installed_with_sudo_and_nothing_else():
    p, _, calls = make_with_fakes('deps', ['libjansson-dev'], with_sudo=True)
    assert p.returncode == 0, p
    assert p.stdout == 'deps: installing libjansson-dev\n' and p.stderr == '', p
    assert calls == ['sudo apt-get update -qq', 'apt-get update -qq',
                     'sudo apt-get install -y -qq --no-install-recommends libjansson-dev',
                     'apt-get install -y -qq --no-install-recommends libjansson-dev'], calls


def test_nothing_missing_needs_no_root_and_no_apt():
    """`make` on a machine that has the packages: no sudo, no apt-get."""
    p, _, calls = make_with_fakes('deps', [], with_sudo=True)
    assert p.returncode == 0 and p.stdout == '' and p.stderr == '', p
    assert calls == [], calls


# ---- the /tmp/llmux-UID socket folder ---------------------------------------

def start_as(uid, folder_setup):
    """llmuxd as uid, without $XDG_RUNTIME_DIR or --socket, after
    folder_setup(path) prepared /tmp/llmux-UID; returns (process, path,
    the folder of its configuration)."""
    path = '/tmp/llmux-%d' % uid
    remove(path)
    folder_setup(path)
    t = tempfile.mkdtemp(prefix='llmux-as-%d-' % uid)
    os.chmod(t, 0o755)
    cfg = os.path.join(t, 'llmux.yaml')
    with open(cfg, 'w') as f:
        f.write(MOCK_CFG)
    os.chmod(cfg, 0o644)
    env = {k: v for k, v in os.environ.items() if k not in ('XDG_RUNTIME_DIR', 'LLMUX_SOCKET')}
    d = subprocess.Popen(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--clear-groups',
                          LLMUXD, '-c', cfg], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    return d, path, t


def remove(path):
    if os.path.islink(path):
        os.unlink(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def refused(uid, folder_setup, what):
    d, path, t = start_as(uid, folder_setup)
    try:
        out, _ = d.communicate(timeout=20)   # refused: llmuxd exits at once
        assert d.returncode == 1, (what, d.returncode, out)
        assert 'refusing %s for the socket' % path in out and what in out, out
        assert not os.path.exists(os.path.join(path, 'llmux.sock')), what
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        remove(path)
        shutil.rmtree(t)


def test_tmp_socket_folder_must_be_ours_alone():
    """Without $XDG_RUNTIME_DIR a user's llmuxd listens in /tmp/llmux-UID.
    /tmp is shared: a folder of that name made by someone else (who could
    swap the socket and read every prompt), a symlink, or a folder open to
    others is refused; an absent one is made 0700 and used."""
    uid = 40000 + os.getpid() % 10000
    other = uid + 1

    def theirs(path):   # pre-created by another user, open to all
        os.mkdir(path)
        os.chmod(path, 0o777)
        os.chown(path, other, other)
    refused(uid, theirs, 'a folder owned by uid %d, mode 0777' % other)

    target = tempfile.mkdtemp(prefix='llmux-target-')
    os.chmod(target, 0o700)
    os.chown(target, uid, uid)
    refused(uid, lambda path: os.symlink(target, path), 'a symlink')
    shutil.rmtree(target)

    def loose(path):    # ours, but others may enter it
        os.mkdir(path)
        os.chmod(path, 0o755)
        os.chown(path, uid, uid)
    refused(uid, loose, 'a folder owned by uid %d, mode 0755' % uid)

    d, path, t = start_as(uid, lambda path: None)
    try:
        sock = os.path.join(path, 'llmux.sock')
        wait_for(lambda: os.path.exists(sock) or d.poll() is not None,
                 what='llmuxd to listen in %s' % path)
        assert d.poll() is None, d.communicate()
        st = os.lstat(path)
        assert (st.st_uid, st.st_mode & 0o7777) == (uid, 0o700), (st.st_uid, oct(st.st_mode))
    finally:
        d.kill()
        d.wait()
        remove(path)
        shutil.rmtree(t)


def test_make_run_takes_only_a_socket_folder_of_its_own():
    """make run without $XDG_RUNTIME_DIR listens in /tmp/llmux-UID (as root
    too: /run/llmux/llmux.sock is the system service's), and refuses that
    folder when someone else made it. `id` is faked so that make takes a
    uid of the test's; the build under test is not remade (-o all)."""
    uid = 40000 + (os.getpid() + 1) % 10000
    path = '/tmp/llmux-%d' % uid
    remove(path)
    os.mkdir(path)
    os.chmod(path, 0o777)
    os.chown(path, uid + 1, uid + 1)
    bin_dir = tempfile.mkdtemp(prefix='llmux-fakeid-')
    with open(os.path.join(bin_dir, 'id'), 'w') as f:
        f.write('#!/bin/sh\necho %d\n' % uid)
    os.chmod(os.path.join(bin_dir, 'id'), 0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ('XDG_RUNTIME_DIR', 'MAKEFLAGS', 'MAKELEVEL')}
    env['PATH'] = bin_dir + ':' + env.get('PATH', '/usr/bin:/bin')
    p = subprocess.Popen([MAKE, '--no-print-directory', '-C', ROOT,
                          'B=' + os.path.abspath(BUILD), '-o', 'all', '-o', 'deps', 'run'],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=20)   # refused: make stops at once
        assert p.returncode != 0, (out, err)
        assert err.startswith('run: %s is not a folder of yours alone (owner uid %d, mode 777)'
                              % (path, uid + 1)), err
        assert 'llmuxd' not in out and os.listdir(path) == [], (out, os.listdir(path))
    finally:
        if p.poll() is None:                   # llmuxd started: stop make's group
            os.killpg(p.pid, signal.SIGTERM)   # llmuxd removes its socket
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        remove(path)
        shutil.rmtree(bin_dir)
