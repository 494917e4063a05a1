#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge ownbuf test runs.  Python 3 standard library only.

Every verdict is an *item* (one JSON object per line in an items file):
  {"kernel": "debug", "suite": "selftest:ownbuf_test", "name": "f.t",
   "status": "pass" | "fail" | "skip", "category": "...", "detail": "..."}

Subcommands:
  run     judge one guest run (console.log, results.log, status of
          scripts/lib/guest.sh) and append its items to --out
  item    append one host-side item (a build, a static check, ...)
  report  print the per-kernel, per-suite table and the failures of one or
          more items files; the last line is exactly "N passed, N failed"
          (skipped items count as failed); exit status 1 on any failure
  expect  assert that an items file holds exactly the failures of the given
          categories (the harness self-test)
  splats  print the splats of a console log, one "category: headline" per
          line (make demo and make bench use it); exit status 1 if any

SPLATS below is the one list of what a kernel report looks like; the KUnit
suite's console probe (kunit/ownbuf_kunit_util.c) only uses it to blame
the test that was running, and judge.py reads the same console anyway.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------
# Console splats.  Only kernel log lines are looked at (the "[  1.234]"
# timestamp of printk), and a pattern must match at the start of the
# message, so test output and module messages that merely mention a word
# like "WARNING" are not mistaken for reports.

SPLATS = [
    ('kasan', re.compile(r'BUG: KASAN: ')),
    ('kcsan', re.compile(r'BUG: KCSAN: ')),
    ('kfence', re.compile(r'BUG: KFENCE: ')),
    ('ubsan', re.compile(r'UBSAN: ')),
    ('lockdep', re.compile(r'WARNING: (?!CPU: ).*(lock|RCU)')),
    ('lockdep', re.compile(r'INFO: trying to register non-static key')),
    ('refcount', re.compile(r'refcount_t: ')),
    ('debugobjects', re.compile(r'ODEBUG: ')),
    ('list-corruption', re.compile(r'list_\w+ corruption')),
    ('hung-task', re.compile(r'INFO: task \S+ blocked for more than')),
    ('rcu-stall', re.compile(r'(rcu: )?INFO: rcu_\w+ (self-)?detected')),
    ('warning', re.compile(r'WARNING: ')),
    ('oops', re.compile(r'Oops|general protection fault|\S.*: [0-9a-f]{4} \[#\d+\]')),
    ('bug', re.compile(r'(watchdog: )?BUG[: ]|kernel BUG at ')),
    ('panic', re.compile(r'Kernel panic - not syncing')),
]

# Data races KCSAN reports in the core kernel under QEMU/TCG: not ownbuf's,
# so shown but not judged.  By the two functions of the report's headline
# ("data-race in A / B"), the functions that made the racing accesses;
# ownbuf may appear further down the stacks, as the caller of printk()
# (every violation is reported), but it cannot race inside printk.  Any
# other KCSAN report fails the run.
KCSAN_CORE = {
    # printk's console_waiter handover (kernel/printk/printk.c): a plain
    # read in vprintk_emit()'s inlined console_trylock_spinning() against
    # the marked write of the CPU handing the console over.  Seen in the
    # KUnit race tests, whose workers report violations concurrently.
    'console_lock_spinning_disable_and_check',
    'vprintk_emit',
    # RCU's per-CPU quiescent-state hints (kernel/rcu/tree.c): the grace
    # period kthread's marked write in rcu_watching_snap_recheck() against
    # the plain read in the tick's rcu_sched_clock_irq().  Seen when a
    # KUnit window test keeps a CPU busy long enough for RCU to force
    # quiescent states; the interrupted task's stack may show ownbuf.
    'rcu_sched_clock_irq',
    'rcu_watching_snap_recheck',
}

# A report of one of these categories that follows another report within a
# few lines is part of it (the WARN under a refcount_t message, the Oops
# line under "BUG: kernel NULL pointer dereference", ...).
FOLLOWERS = {'warning': 6, 'oops': 12, 'bug': 6}

KMSG = re.compile(r'^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?(.*)$')
MARK = re.compile(r'^ownbuf-harness: begin (.*)$')
# A kselftest program run whole ("selftests PROG") writes its output to
# /dev/kmsg; the harness's line before it forks each test names the test.
PROGRAM = re.compile(r'^selftests (\S+)$')
RUN = re.compile(r'^#\s+RUN\s+(\S+) \.\.\.$')
KUNIT_SUITE = re.compile(r'^    # Subtest: (\S+)')
KUNIT_CASE = re.compile(r'^    (?:not )?ok \d+ (\S+)')
KUNIT_END = re.compile(r'^(?:not )?ok \d+ (\S+)')
TAINT_BAD = {'B': 5, 'D': 7, 'W': 9, 'L': 14}

# Allocator frames skipped when naming where a leaked object came from.
ALLOCATORS = re.compile(
    r'(_+)?(kmemleak|kmalloc|kzalloc|kcalloc|krealloc|kvmalloc|kvzalloc|'
    r'vmalloc|vzalloc|kmem_cache|kmem_|slab_|do_kmalloc|kasprintf|'
    r'kvasprintf|kstrdup|kmemdup|alloc_pages|folio_alloc|'
    r'_*slab_alloc|kvrealloc)')

RECORD_BEGIN = re.compile(r'^@@OWNBUF BEGIN (\S+) (\S+)$')
RECORD_END = re.compile(r'^@@OWNBUF END (\S+) (\S+) rc=(-?\d+)$')

TAP_PLAN = re.compile(r'^1\.\.(\d+)')
TAP_RESULT = re.compile(
    r'^(not ok|ok) (\d+)(?: -)? ?([^#]*?)\s*(?:#\s*(\w+)\s*(.*))?$')


class Items:
    """Collects items of one kernel."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.items = []

    def add(self, suite, name, status, category='', detail=''):
        self.items.append({'kernel': self.kernel, 'suite': suite,
                           'name': name, 'status': status,
                           'category': category if status != 'pass' else '',
                           'detail': detail.rstrip()})

    def write(self, path):
        with open(path, 'a', encoding='utf-8') as f:
            for item in self.items:
                f.write(json.dumps(item) + '\n')


def read_text(path):
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as f:
            return f.read().replace('\r', '')
    except FileNotFoundError:
        return ''


def parse_records(text):
    """The BEGIN/END records of the results channel, in order.  A record
    without END (the guest died in it) has rc None."""
    records = []
    cur = None
    for line in text.split('\n'):
        m = RECORD_BEGIN.match(line)
        if m:
            if cur:
                records.append(cur)
            cur = {'kind': m.group(1), 'name': m.group(2), 'lines': [],
                   'rc': None}
            continue
        m = RECORD_END.match(line)
        if m and cur and (m.group(1), m.group(2)) == (cur['kind'],
                                                       cur['name']):
            cur['rc'] = int(m.group(3))
            records.append(cur)
            cur = None
            continue
        if cur is not None:
            cur['lines'].append(line)
    if cur:
        records.append(cur)
    return records


def tail(lines, n=30):
    return '\n'.join(lines[-n:])


# --------------------------------------------------------------------------
# Console

def scan_console(text):
    """Splats of a console log with what was running when each happened.
    Returns (splats, last_label, panic_line)."""
    splats = []
    label = 'boot'
    suite = None
    prog = None           # the kselftest program running whole, if any
    pending = []          # splats waiting for the KUnit case that ran
    panic = None
    lines = text.split('\n')
    for idx, raw in enumerate(lines):
        m = KMSG.match(raw)
        if not m:
            continue
        msg = m.group(1)
        mm = MARK.match(msg)
        if mm:
            label = mm.group(1)
            suite = None
            mp = PROGRAM.match(label)
            prog = mp.group(1) if mp else None
            continue
        mr = RUN.match(msg) if prog else None
        if mr:
            label = 'selftest %s:%s' % (prog, mr.group(1))
            continue
        ms = KUNIT_SUITE.match(msg)
        if ms:
            suite = ms.group(1)
            continue
        mc = KUNIT_CASE.match(msg)
        if mc and suite:
            for s in pending:
                s['where'] = 'kunit %s.%s (during %s)' % (suite, mc.group(1),
                                                          s['where'])
            pending = []
            continue
        me = KUNIT_END.match(msg)
        if me and suite and me.group(1) == suite:
            suite = None
            continue
        for cat, rx in SPLATS:
            if not rx.match(msg):
                continue
            if cat == 'panic':
                panic = msg
                break
            prev = splats[-1] if splats else None
            if (prev and cat in FOLLOWERS and
                    idx - prev['line'] <= FOLLOWERS[cat] and
                    prev['category'] != cat):
                break
            s = {'category': cat, 'headline': msg, 'line': idx,
                 'where': label,
                 'context': '\n'.join(lines[idx:idx + 25])}
            if cat == 'kcsan' and kcsan_core(msg):
                print('[judge] not ownbuf\'s: %s' % msg)
                break
            splats.append(s)
            if suite:
                pending.append(s)
            break
    for s in pending:
        s['where'] = 'kunit %s (during %s)' % (suite, s['where'])
    return splats, label, panic


def kcsan_core(headline):
    """A KCSAN report whose racing functions KCSAN_CORE all lists: both
    of "data-race in F / G", or the one of "data-race in F" (a race at
    unknown origin: KCSAN saw the value change under a read)."""
    m = re.search(r'data-race in (\S+)(?: / (\S+))?', headline)
    if not m:
        return False
    funcs = {f.split('+')[0] for f in m.groups() if f}
    return funcs <= KCSAN_CORE


# --------------------------------------------------------------------------
# KUnit: one results file per suite, parsed by the kernel's kunit.py.

def kunit_cases(group, prefix=''):
    """Leaf cases of kunit.py's JSON (parameterised cases are groups)."""
    out = []
    for case in group.get('test_cases', []):
        out.append((prefix + case['name'], case['status']))
    for sub in group.get('sub_groups', []):
        out.extend(kunit_cases(sub, prefix + sub['name'] + '.'))
    return out


def judge_kunit(items, rec, kunit_py):
    suite = rec['name']
    ktap = '\n'.join(rec['lines']) + '\n'
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, suite + '.ktap')
        js = os.path.join(tmp, suite + '.json')
        with open(src, 'w', encoding='utf-8') as f:
            f.write(ktap)
        proc = subprocess.run([sys.executable, kunit_py, 'parse',
                               '--json=' + js, src],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
        summary = proc.stdout
        print('[judge] %s: kunit.py parse %s' % (items.kernel, suite))
        for line in summary.rstrip().split('\n'):
            print('    ' + line)
        try:
            with open(js, encoding='utf-8') as f:
                tree = json.load(f)
        except (OSError, ValueError):
            tree = {}
    cases = []
    for group in tree.get('sub_groups', []):
        cases.extend(kunit_cases(group))
    if not cases:
        items.add('kunit:' + suite, suite, 'fail', 'kunit',
                  'kunit.py found no test cases\n' + summary)
        return
    for name, status in cases:
        if status == 'PASS':
            items.add('kunit:' + suite, name, 'pass')
        elif status == 'SKIP':
            items.add('kunit:' + suite, name, 'skip', 'skip',
                      case_log(rec['lines'], name))
        else:
            items.add('kunit:' + suite, name, 'fail', 'kunit',
                      case_log(rec['lines'], name))
    if proc.returncode != 0 and all(s == 'PASS' for _, s in cases):
        items.add('kunit:' + suite, suite, 'fail', 'kunit',
                  'kunit.py parse failed although every case passed\n' +
                  summary)


def case_log(lines, name):
    """The KTAP lines of one case: its diagnostics and its result line."""
    leaf = name.split('.')[-1]
    out = []
    for line in lines:
        out.append(line)
        if re.match(r'^\s*(not )?ok \d+ %s(\s|$)' % re.escape(leaf), line):
            return '\n'.join(l for l in out[-30:] if l.strip().startswith('#')
                             or l is line)
    return ''


# --------------------------------------------------------------------------
# kselftest TAP

def tap_results(lines):
    """(plan, results) of the top-level TAP lines."""
    plan = None
    results = []
    for line in lines:
        m = TAP_PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = TAP_RESULT.match(line)
        if m:
            results.append({'ok': m.group(1) == 'ok', 'num': int(m.group(2)),
                            'desc': m.group(3).strip(),
                            'directive': (m.group(4) or '').upper(),
                            'reason': m.group(5) or ''})
    return plan, results


def diag(lines, n=25):
    return tail([l for l in lines if l.strip()], n)


def judge_test(items, suite, test, out):
    """One test of a kselftest program: OUT is its lines, from the
    harness's "RUN" line to its TAP result (the last line)."""
    r = tap_results(out[-1:])[1][0]
    if r['ok'] and r['directive'] == 'SKIP':
        items.add(suite, test, 'skip', 'skip',
                  'SKIP %s\n%s' % (r['reason'], diag(out)))
    elif r['ok'] and r['directive'] == 'XFAIL':
        items.add(suite, test, 'fail', 'selftest',
                  'XFAIL is not a pass: %s' % r['reason'])
    elif r['ok'] and not r['directive']:
        items.add(suite, test, 'pass')
    else:
        items.add(suite, test, 'fail', 'selftest', diag(out))


def judge_program(items, rec, ran):
    """A kselftest program run whole: its TAP cut into one record per test
    (from the harness's "RUN" line to the test's result), judged by
    judge_test()."""
    prog, lines, rc = rec['name'], rec['lines'], rec['rc']
    suite = 'selftest:' + prog
    if rc is None:
        return          # the guest died in it: reported as the death
    test, out, failed = None, [], 0
    for line in lines:
        m = RUN.match(line)
        if m:
            test, out = m.group(1), [line]
            continue
        if test is None:
            continue
        out.append(line)
        m = TAP_RESULT.match(line)
        if not m:
            continue
        ok = m.group(1) == 'ok'
        if m.group(3).strip() != test:
            items.add(suite, test, 'fail', 'selftest',
                      'the result line names another test\n' + diag(out))
        else:
            judge_test(items, suite, test, out)
        ran.add('%s:%s' % (prog, test))
        failed += not ok
        test, out = None, []
    if test is not None:
        ran.add('%s:%s' % (prog, test))
        items.add(suite, test, 'fail', 'timeout' if rc == 137 else 'selftest',
                  'no result: %s\n%s' % (
                      'the program was killed after the guest-side timeout'
                      if rc == 137 else 'the program ended (rc=%d)' % rc,
                      diag(out)))
    elif rc != 0 and not failed:
        items.add(suite, 'exit status', 'fail', 'selftest',
                  'rc=%d, yet no test failed\n%s' % (rc, diag(lines)))


def judge_script(items, rec):
    suite = 'script:' + rec['name']
    lines = rec['lines']
    rc = rec['rc']
    if rc is None:
        return
    plan, results = tap_results(lines)
    if rc == 137:
        items.add(suite, rec['name'], 'fail', 'timeout',
                  'killed after the guest-side timeout\n' + diag(lines))
        return
    if not results:
        items.add(suite, rec['name'], 'fail', 'selftest',
                  'no TAP results (rc=%d)\n%s' % (rc, diag(lines)))
        return
    failed = False
    for r in results:
        name = '%d %s' % (r['num'], r['desc'])
        if r['ok'] and r['directive'] == 'SKIP':
            items.add(suite, name, 'skip', 'skip', 'SKIP ' + r['reason'])
        elif r['ok'] and not r['directive']:
            items.add(suite, name, 'pass')
        else:
            failed = True
            items.add(suite, name, 'fail', 'selftest',
                      '%s %s' % (r['directive'], r['reason']))
    if plan is not None and plan != len(results):
        items.add(suite, 'plan', 'fail', 'selftest',
                  'plan 1..%d but %d results' % (plan, len(results)))
    elif rc != 0 and not failed:
        items.add(suite, 'exit status', 'fail', 'selftest',
                  'exit status %d\n%s' % (rc, diag(lines)))


# --------------------------------------------------------------------------

def judge_run(args):
    items = Items(args.kernel)
    console = read_text(os.path.join(args.dir, 'console.log'))
    results = read_text(os.path.join(args.dir, 'results.log'))
    status = read_text(os.path.join(args.dir, 'status')).strip() or 'died'
    clines = console.split('\n')
    records = parse_records(results)
    splats, label, panic = scan_console(console)
    kunit_py = os.path.join(args.ksrc, 'tools/testing/kunit/kunit.py')

    listed = {}
    ran = set()
    has_kmemleak = False
    saw_kmemleak = False
    tainted = None
    kunit_modules = 0
    kunit_suites = 0
    for rec in records:
        kind, name, rc = rec['kind'], rec['name'], rec['rc']
        out = diag(rec['lines'])
        if kind == 'meta':
            for line in rec['lines']:
                if line == 'kmemleak=yes':
                    has_kmemleak = True
                if line.startswith('tainted=') and name == 'end':
                    tainted = int(line.split('=', 1)[1] or 0)
        elif kind in ('insmod', 'kunit-insmod', 'sample-insmod',
                      'rmmod', 'kunit-rmmod', 'sample-rmmod'):
            if rc is None:
                continue
            cat = 'rmmod' if kind.endswith('rmmod') else 'insmod'
            suite = {'insmod': 'module', 'rmmod': 'module',
                     'kunit-insmod': 'kunit', 'kunit-rmmod': 'kunit',
                     'sample-insmod': 'samples',
                     'sample-rmmod': 'samples'}[kind]
            if kind == 'kunit-insmod':
                kunit_modules += 1
            items.add(suite, '%s %s' % (cat, name),
                      'pass' if rc == 0 else 'fail', cat,
                      'rc=%d\n%s' % (rc, out))
        elif kind == 'kunit':
            kunit_suites += 1
            judge_kunit(items, rec, kunit_py)
        elif kind == 'list':
            tests = [l.strip() for l in rec['lines'] if l.strip()]
            if rc != 0 or not tests:
                items.add('selftest:' + name, 'list', 'fail', 'selftest',
                          '"%s -l" listed no tests (rc=%s)\n%s'
                          % (name, rc, out))
            else:
                listed[name] = tests
        elif kind == 'selftests':
            judge_program(items, rec, ran)
        elif kind == 'script':
            judge_script(items, rec)
        elif kind == 'kmemleak':
            saw_kmemleak = True
            judge_kmemleak(items, rec)

    if kunit_modules and not kunit_suites and status == 'done':
        items.add('kunit', 'suites', 'fail', 'kunit',
                  'KUnit modules loaded but no suite in '
                  '/sys/kernel/debug/kunit')
    if status == 'done':
        for prog, tests in listed.items():
            for t in tests:
                if '%s:%s' % (prog, t) not in ran:
                    items.add('selftest:' + prog, t, 'fail', 'selftest',
                              'listed but never run')
        if has_kmemleak and not saw_kmemleak:
            items.add('kmemleak', 'scan', 'fail', 'kmemleak',
                      'no kmemleak report came back')

    for s in splats:
        items.add('console', '%s in %s' % (s['category'], s['where']),
                  'fail', s['category'],
                  '%s\n%s' % (s['headline'], s['context']))

    if status == 'done':
        items.add('boot', 'run completed', 'pass')
        if not splats:
            bad = ''
            if tainted is not None:
                bad = ''.join(k for k, bit in TAINT_BAD.items()
                              if tainted & (1 << bit))
            if bad:
                items.add('console', 'taint', 'fail', 'taint',
                          'kernel tainted %s (%d) without a recognised '
                          'report; see the console' % (bad, tainted))
            else:
                items.add('console', 'no splats', 'pass')
    else:
        open_recs = [r for r in records if r['rc'] is None]
        running = ('%s %s' % (open_recs[-1]['kind'], open_recs[-1]['name'])
                   if open_recs else label)
        what = 'hang' if status == 'timeout' else 'death'
        idle = read_text(os.path.join(args.dir, 'idle')).strip()
        detail = '%s while running: %s\n' % (
            (idle or 'timed out') if status == 'timeout'
            else 'guest died early', running)
        if panic:
            detail += panic + '\n'
        detail += '--- console tail ---\n' + tail(clines, 40)
        items.add('boot', '%s in %s' % (what, running), 'fail', what, detail)

    first = os.path.join(args.dir, 'first-attempt')
    if os.path.isdir(first):
        print('[judge] %s: note: the first boot never reached /init and was '
              'retried (console: %s/console.log):' % (args.kernel, first))
        for line in read_text(os.path.join(first, 'console.log')).split(
                '\n')[-15:]:
            print('    ' + line)

    if args.out:
        items.write(args.out)
    print_table(items.items)
    return 0


def judge_kmemleak(items, rec):
    objs = []
    cur = None
    for line in rec['lines']:
        if line.startswith('unreferenced object'):
            cur = [line]
            objs.append(cur)
        elif cur is not None and line.startswith(' '):
            cur.append(line)
    for obj in objs:
        where = ''
        for line in obj:
            m = re.match(r'^\s+\[<[0-9a-f]+>\] (\S+)', line)
            if not m:
                m = re.match(r'^\s+(\S+\+0x[0-9a-f]+/0x[0-9a-f]+)', line)
            if m and not ALLOCATORS.match(m.group(1)):
                where = m.group(1)
                break
        items.add('kmemleak', 'leak' + (' from ' + where if where else ''),
                  'fail', 'kmemleak', '\n'.join(obj[:30]))
    if not objs:
        items.add('kmemleak', 'no leaks', 'pass')


# --------------------------------------------------------------------------
# Report

def load_items(paths):
    items = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if line:
                    items.append(json.loads(line))
    return items


def print_table(items, title=None):
    rows = {}
    order = []
    for it in items:
        key = (it['kernel'], it['suite'])
        if key not in rows:
            rows[key] = [0, 0, 0]
            order.append(key)
        rows[key][{'pass': 0, 'fail': 1, 'skip': 2}[it['status']]] += 1
    if title:
        print(title)
    w1 = max([len(k) for k, _ in order] + [6])
    w2 = max([len(s) for _, s in order] + [5])
    print('  %-*s  %-*s  %6s  %6s  %6s' % (w1, 'kernel', w2, 'suite',
                                           'passed', 'failed', 'skip'))
    for key in order:
        p, f, s = rows[key]
        flag = '' if f == 0 and s == 0 else '  <-- FAIL'
        print('  %-*s  %-*s  %6d  %6d  %6d%s' % (w1, key[0], w2, key[1],
                                                 p, f, s, flag))


def report(args):
    items = load_items(args.items)
    bad = [it for it in items if it['status'] != 'pass']
    if bad:
        print('Failures:')
        for it in bad:
            print('--- [%s] %s: %s (%s%s)' % (
                it['kernel'], it['suite'], it['name'], it['category'],
                ', skipped tests count as failed'
                if it['status'] == 'skip' else ''))
            if it.get('detail') and not args.brief:
                for line in it['detail'].split('\n')[:args.detail_lines]:
                    print('    ' + line)
        print()
    print_table(items, 'Summary:')
    passed = sum(1 for it in items if it['status'] == 'pass')
    print('%d passed, %d failed' % (passed, len(items) - passed))
    return 1 if bad or not items else 0


def expect(args):
    """Exactly the expected failure categories and no other failure (a
    race may be reported more than once); the guest must also have passed
    the control items."""
    items = load_items([args.items])
    bad = [it for it in items if it['status'] != 'pass']
    got = sorted(set(it['category'] for it in bad))
    want = sorted(set(args.category))
    if got == want:
        print('[judge] as expected: %s' % (', '.join(want) or 'no failure'))
        return 0
    print('[judge] expected failures %s, got %s' % (want or 'none',
                                                   got or 'none'))
    for it in bad:
        print('    [%s] %s: %s (%s)' % (it['kernel'], it['suite'],
                                        it['name'], it['category']))
    return 1


def add_item(args):
    detail = ''
    if args.detail_file and os.path.exists(args.detail_file):
        detail = read_text(args.detail_file)
        lines = detail.split('\n')
        if len(lines) > 60:
            detail = '\n'.join(lines[:60] + ['... (%d more lines in %s)'
                                            % (len(lines) - 60,
                                               args.detail_file)])
    if args.detail:
        detail = args.detail + ('\n' + detail if detail else '')
    items = Items(args.kernel)
    items.add(args.suite, args.name, args.status, args.category, detail)
    items.write(args.out)
    return 0


def splats_cmd(args):
    try:
        with open(args.console, errors='replace') as f:
            text = f.read()
    except OSError:
        text = ''
    splats, _, panic = scan_console(text)
    for s in splats:
        print('%s: %s' % (s['category'], s['headline']))
    if panic:
        print('panic: %s' % panic)
    return 1 if splats or panic else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)

    p = sub.add_parser('run', help='judge one guest run')
    p.add_argument('--kernel', required=True)
    p.add_argument('--dir', required=True, help='output of guest.sh')
    p.add_argument('--ksrc', required=True,
                   help='linux source tree (for kunit.py)')
    p.add_argument('--out', help='items file to append to')
    p.set_defaults(func=judge_run)

    p = sub.add_parser('item', help='append one host-side item')
    p.add_argument('--out', required=True)
    p.add_argument('--kernel', default='host')
    p.add_argument('--suite', required=True)
    p.add_argument('--name', required=True)
    p.add_argument('--status', required=True, choices=['pass', 'fail', 'skip'])
    p.add_argument('--category', default='')
    p.add_argument('--detail', default='')
    p.add_argument('--detail-file')
    p.set_defaults(func=add_item)

    p = sub.add_parser('report', help='table, failures, final count')
    p.add_argument('items', nargs='+')
    p.add_argument('--brief', action='store_true')
    p.add_argument('--detail-lines', type=int, default=40)
    p.set_defaults(func=report)

    p = sub.add_parser('expect', help='assert the failure categories')
    p.add_argument('--items', required=True)
    p.add_argument('category', nargs='*')
    p.set_defaults(func=expect)

    p = sub.add_parser('splats', help='the splats of a console log')
    p.add_argument('console')
    p.set_defaults(func=splats_cmd)

    args = ap.parse_args()
    sys.exit(args.func(args))


if __name__ == '__main__':
    main()
