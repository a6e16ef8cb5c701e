#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# run_corpus.py - run one program of the coherency corpus and its FIXED twin under dmabuf-run
# and check what the checker reports and what data the programs see; prints TAP.
#
#   run_corpus.py DMABUF_RUN NAME BUGGY FIXED
#
# The buggy program, on the incoherent heap:
#   --check-coherency --check-report=FILE: exit 0, the report's violations are exactly the
#     expected ones (kind, access, offset, bracket, SYNC flags, process, buffer, backtrace),
#     the text report on stderr names them, summary records count them, the data is as
#     expected (stale, but for end_without_start);
#   --check-coherency=abort: dies of SIGABRT;
#   no checker: exit 0, the same data (the model does not need the checker), no report.
# On the system heap (coherent, as x86 is) with the checker: the same violations, fresh data
# (but for fence_pending, which reads before the data is written on any heap).
# The twin: no violation, exit 0 and fresh data on both heaps, with the checker in either
# mode and without it.
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile

# corpus.h
BUF_SIZE = 4 * 4096
DATA_OFF = 4160
BUF_NAME = 'frame'

MAP_INFO = {'incoherent': 'INCOHERENT', 'system': 'COHERENT_CACHED'}


def access(kind, direction, bracket='none', pid='main'):
    return {'kind': kind, 'access': direction, 'offset': DATA_OFF, 'bracket': bracket,
            'sync': None, 'pid': pid}


def bracket(kind, open_bracket, sync):
    return {'kind': kind, 'access': None, 'offset': None, 'bracket': open_bracket,
            'sync': sync, 'pid': 'main'}


# name: (the violations of the buggy program, its data on the incoherent heap, on the system
# heap).  'pid' is 'main' (the program) or 'reader' (the process it prints as "reader pid").
EXPECT = {
    'read_no_sync': ([access('access-outside-bracket', 'read')], 'stale', 'fresh'),
    'write_no_sync': ([access('access-outside-bracket', 'write')], 'stale', 'fresh'),
    'write_in_read_bracket': ([access('write-in-read-bracket', 'write', 'READ')],
                              'stale', 'fresh'),
    'double_start': ([bracket('nested-start', 'WRITE', 'START|WRITE')], 'stale', 'fresh'),
    # an END with no access open does no cache maintenance: the data is right
    'end_without_start': ([bracket('end-without-start', 'none', 'END|WRITE')],
                          'fresh', 'fresh'),
    # the program reads before the job writes: stale on a coherent heap too
    'fence_pending': ([access('access-while-fence-pending', 'read')], 'stale', 'stale'),
    'fork_reader': ([access('access-outside-bracket', 'read', pid='reader')],
                    'stale', 'fresh'),
    'direction_mismatch': ([bracket('direction-mismatch', 'RW', 'END|READ')],
                           'stale', 'fresh'),
    'unbalanced_at_exit': ([bracket('unbalanced-at-exit', 'WRITE', None)], 'stale', 'fresh'),
}

ACCESS_KINDS = ('access-outside-bracket', 'write-in-read-bracket',
                'access-while-fence-pending')
TIMEOUT = 60

tap_n = 0
tap_failed = 0


def ok(cond, what, diag=None):
    global tap_n, tap_failed
    tap_n += 1
    tap_failed += not cond
    print('%sok %d - %s' % ('' if cond else 'not ', tap_n, what))
    if not cond and diag:
        for line in str(diag).rstrip('\n').split('\n'):
            print('#   ' + line)
    sys.stdout.flush()
    return cond


class Run:
    """One run of a program under dmabuf-run: status, output, report records."""

    def __init__(self, dmabuf_run, exe, heap, mode, tmp):
        self.exe = exe
        self.heap = heap
        self.mode = mode
        cmd = [dmabuf_run, '--private']
        report = None
        if mode:
            report = os.path.join(tmp, 'report-%s-%s.jsonl' % (heap, mode))
            # a stale file from before must not count: dmabuf-run truncates it
            with open(report, 'w') as f:
                f.write('{"type":"left over"}\n')
            cmd += ['--check-coherency=' + mode, '--check-report=' + report]
        cmd += ['--', exe]
        env = dict(os.environ)
        for var in ('DMABUF_CHECK_COHERENCY', 'DMABUF_CHECK_REPORT'):
            env.pop(var, None)
        env['CORPUS_HEAP'] = heap
        self.cmd = ' '.join(cmd)
        try:
            p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT,
                               preexec_fn=no_core)
            self.status, self.out, self.err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            self.status = None
            self.out = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or ''
            self.err = e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or ''
        self.pid = self.value('pid')
        self.reader = self.value('reader pid')
        self.data = self.value('data')
        self.records, self.bad_lines = [], []
        if report:
            self.read_report(report)
        self.violations = [r for r in self.records if r.get('type') == 'violation']
        self.summaries = [r for r in self.records if r.get('type') == 'summary']

    def value(self, key):
        m = re.search(r'^%s: (\S+)$' % re.escape(key), self.out, re.M)
        return m.group(1) if m else None

    def read_report(self, path):
        try:
            with open(path) as f:
                lines = f.read().split('\n')
        except OSError as e:
            self.bad_lines.append('cannot read %s: %s' % (path, e))
            return
        for line in lines:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if not isinstance(rec, dict):
                self.bad_lines.append(line)
                continue
            self.records.append(rec)

    def text_kinds(self):
        """The kinds the text report on stderr names, one per violation block."""
        return sorted(re.findall(r'^dmabuf-check: .*\[([a-z-]+)\]\s*$', self.err, re.M))

    def exited(self, code):
        return self.status == code

    def aborted(self):
        return self.status in (-signal.SIGABRT, 128 + signal.SIGABRT)

    def diag(self):
        return 'command: %s (CORPUS_HEAP=%s)\nstatus: %s\nstdout:\n%s\nstderr:\n%s' % (
            self.cmd, self.heap, self.status, self.out, self.err)


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError):
        return False


def field_errors(run, rec, want):
    """What differs between violation record @rec and the expected @want."""
    errs = []
    for key in ('kind', 'access', 'offset', 'bracket', 'sync'):
        if rec.get(key, 'missing') != want[key]:
            errs.append('%s: %r, expected %r' % (key, rec.get(key, 'missing'), want[key]))
    pid = run.pid if want['pid'] == 'main' else run.reader
    if pid is None or str(rec.get('pid')) != pid:
        errs.append('pid: %r, expected the %s\'s, %s' % (rec.get('pid'), want['pid'], pid))
    if not same_file(rec.get('program'), run.exe):
        errs.append('program: %r, expected %s' % (rec.get('program'), run.exe))
    return errs


def buffer_errors(run, rec):
    buf = rec.get('buffer') or {}
    want = {'name': BUF_NAME, 'exporter': run.heap, 'map_info': MAP_INFO[run.heap],
            'size': BUF_SIZE}
    return ['buffer.%s: %r, expected %r' % (k, buf.get(k, 'missing'), v)
            for k, v in want.items() if buf.get(k, 'missing') != v]


def backtrace_in_program(run, rec):
    bt = rec.get('backtrace')
    return isinstance(bt, list) and any(
        isinstance(f, dict) and same_file(f.get('object'), run.exe) for f in bt)


def summary_errors(run):
    """Each process with violations has a summary that counts them; the program has one."""
    errs = []
    per_pid = {}
    for v in run.violations:
        per_pid.setdefault(str(v.get('pid')), []).append(v.get('kind'))
    sums = {}
    for s in run.summaries:
        pid = str(s.get('pid'))
        if pid in sums:
            errs.append('two summaries for pid %s' % pid)
        sums[pid] = s
    if run.pid not in sums:
        errs.append('no summary for the program (pid %s)' % run.pid)
    for pid, s in sums.items():
        kinds = per_pid.get(pid, [])
        counted = {}
        for k in kinds:
            counted[k] = counted.get(k, 0) + 1
        if s.get('violations') != len(kinds):
            errs.append('pid %s: summary says %r violations, %d reported' %
                        (pid, s.get('violations'), len(kinds)))
        if {k: n for k, n in (s.get('kinds') or {}).items() if n} != counted:
            errs.append('pid %s: summary kinds %r, reported %r' % (pid, s.get('kinds'), counted))
    for pid in per_pid:
        if pid not in sums:
            errs.append('pid %s has violations and no summary' % pid)
    return errs


def check_buggy(run, name, want, data):
    """The points for a buggy program run with the checker in report mode."""
    tag = '%s (%s heap)' % (name, run.heap)
    ok(run.exited(0), '%s: exits 0 under --check-coherency' % tag, run.diag())
    ok(not run.bad_lines and not any(r.get('type') == 'left over' for r in run.records),
       '%s: the report file is fresh JSON Lines' % tag, '\n'.join(run.bad_lines))
    got = sorted(v.get('kind') for v in run.violations)
    expected = sorted(w['kind'] for w in want)
    ok(got == expected, '%s: reports exactly %s' % (tag, ', '.join(expected)),
       'reported: %s\n%s' % (got, run.diag()))
    errs = []
    for w in want:
        cands = [v for v in run.violations if v.get('kind') == w['kind']]
        if not cands:
            errs.append('no %s record' % w['kind'])
            continue
        best = min((field_errors(run, v, w) for v in cands), key=len)
        errs += best
    detail = ', '.join('%s at offset %d' % (w['access'], w['offset']) if w['access'] else
                       'SYNC %s' % w['sync'] if w['sync'] else 'at exit' for w in want)
    ok(not errs, '%s: the report says where: %s, bracket %s, in the %s' %
       (tag, detail, '/'.join(w['bracket'] for w in want),
        '/'.join('program' if w['pid'] == 'main' else 'forked reader' for w in want)),
       '\n'.join(errs + [json.dumps(v) for v in run.violations]))
    errs = sum((buffer_errors(run, v) for v in run.violations), [])
    ok(run.violations and not errs,
       '%s: the buffer: "%s", exporter %s, map_info %s, %d bytes' %
       (tag, BUF_NAME, run.heap, MAP_INFO[run.heap], BUF_SIZE), '\n'.join(errs))
    sites = [v for v in run.violations if v.get('kind') != 'unbalanced-at-exit']
    if sites:
        ok(all(backtrace_in_program(run, v) for v in sites),
           '%s: the backtrace reaches the program' % tag,
           '\n'.join(json.dumps(v.get('backtrace')) for v in sites))
    ok(run.text_kinds() == expected, '%s: stderr names the same violations' % tag,
       'stderr names: %s\n%s' % (run.text_kinds(), run.err))
    errs = summary_errors(run)
    ok(not errs, '%s: summary records count them' % tag,
       '\n'.join(errs + [json.dumps(s) for s in run.summaries]))
    ok(run.data == data, '%s: data %s' % (tag, data), run.diag())


def check_clean(run, name, heap_note=''):
    """The points for a twin (or any run that must be silent and fresh)."""
    tag = '%s (%s heap%s)' % (name, run.heap, heap_note)
    ok(run.exited(0), '%s: exits 0' % tag, run.diag())
    if run.mode:
        fresh = not any(r.get('type') == 'left over' for r in run.records)
        ok(fresh and not run.violations and not run.bad_lines and 'dmabuf-check' not in run.err,
           '%s: no violation reported' % tag,
           '\n'.join([json.dumps(v) for v in run.violations] + run.bad_lines + [run.err]))
        errs = summary_errors(run)
        ok(not errs and all(s.get('violations') == 0 for s in run.summaries),
           '%s: summaries say 0 violations' % tag,
           '\n'.join(errs + [json.dumps(s) for s in run.summaries]))
    ok(run.data == 'fresh', '%s: data fresh' % tag, run.diag())


def main():
    if len(sys.argv) != 5 or sys.argv[2] not in EXPECT:
        sys.stderr.write('usage: run_corpus.py DMABUF_RUN NAME BUGGY FIXED\n'
                         'NAME: one of %s\n' % ', '.join(EXPECT))
        return 2
    dmabuf_run, name, buggy, fixed = sys.argv[1:]
    buggy, fixed = os.path.abspath(buggy), os.path.abspath(fixed)
    want, data, system_data = EXPECT[name]
    with tempfile.TemporaryDirectory(prefix='corpus-') as tmp:
        # the buggy program
        check_buggy(Run(dmabuf_run, buggy, 'incoherent', 'report', tmp), name, want, data)
        run = Run(dmabuf_run, buggy, 'incoherent', 'abort', tmp)
        ok(run.aborted() and want[0]['kind'] in run.text_kinds(),
           '%s: dies of SIGABRT under --check-coherency=abort, after reporting %s' %
           (name, want[0]['kind']), run.diag())
        run = Run(dmabuf_run, buggy, 'incoherent', None, tmp)
        ok(run.exited(0) and run.data == data and 'dmabuf-check' not in run.err,
           '%s: without the checker: exits 0, data %s, nothing reported' % (name, data),
           run.diag())
        run = Run(dmabuf_run, buggy, 'system', 'report', tmp)
        check_buggy(run, name, want, system_data)
        # the twin
        name += '_fixed'
        check_clean(Run(dmabuf_run, fixed, 'incoherent', 'report', tmp), name)
        check_clean(Run(dmabuf_run, fixed, 'incoherent', 'abort', tmp), name, ', abort mode')
        check_clean(Run(dmabuf_run, fixed, 'incoherent', None, tmp), name, ', no checker')
        check_clean(Run(dmabuf_run, fixed, 'system', 'report', tmp), name)
    print('1..%d' % tap_n)
    return 1 if tap_failed else 0


if __name__ == '__main__':
    sys.exit(main())
