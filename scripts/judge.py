#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge ownbuf test runs.  Python 3 standard library only.

Every verdict is an *item*: {"kernel", "suite", "name", "status":
"pass" | "fail" | "skip", "category", "detail"}.  Guest runs are judged
here into JSON lines (items-KERNEL.jsonl); host stages write one
tab-separated line per item (items-STAGE.tsv, detail in a file), see
item() in scripts/lib/common.sh.

What counts as a failure, in one place:
  * an item that is not "pass": a skipped test is a failure too;
  * any kernel report on the console (SPLATS below), whatever the tests
    said, and a kernel tainted by one that was not recognised (TAINT_BAD);
  * a test stream (KUnit KTAP, kselftest TAP, a script's TAP) that kunit.py
    parse finds broken: fewer results than its plan, no results, a
    program killed by its timeout, a non-zero exit with nothing failed;
  * a leak kmemleak reports after the module is unloaded;
  * a guest that hangs or dies before its run is done;
  * no items at all.

Subcommands:
  run     judge one guest run (console.log, results.log and status of
          scripts/lib/guest.sh) and append its items to --out
  report  the failures and the per-kernel, per-suite table of items files;
          the last line is exactly "N passed, N failed"; exit status 1 on
          any failure
  expect  exactly the failures of the given categories (the harness
          self-test)
  kunit-json  the items of a "kunit.py run --json" (make kunit)
  splats  the splats of a console log, one "category: headline" per line
          (make demo and make bench); exit status 1 if any
"""

import argparse
import io
import json
import os
import re
import sys

# Kernel reports.  Only kernel log lines are looked at (the "[  1.234]"
# timestamp of printk), and a pattern must match at the start of the
# message, so that test output and module messages that merely mention a
# word like "WARNING" are not mistaken for reports.
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
# ("data-race in A / B"); ownbuf may appear further down the stacks, as the
# caller of printk() or as the interrupted task, but cannot race inside
# them.  Any other KCSAN report fails the run.
KCSAN_CORE = {
    # printk's console_waiter handover (kernel/printk/printk.c), seen when
    # the KUnit race tests' workers report violations concurrently.
    'console_lock_spinning_disable_and_check', 'vprintk_emit',
    # RCU's per-CPU quiescent-state hints (kernel/rcu/tree.c), seen when a
    # KUnit window test keeps a CPU busy long enough for RCU to force
    # quiescent states.
    'rcu_sched_clock_irq', 'rcu_watching_snap_recheck',
}

# A report of one of these categories within a few lines of another report
# is part of it (the WARN under a refcount_t message, the Oops line under
# "BUG: kernel NULL pointer dereference", ...).
FOLLOWERS = {'warning': 6, 'oops': 12, 'bug': 6}
TAINT_BAD = {'B': 5, 'D': 7, 'W': 9, 'L': 14}

KMSG = re.compile(r'^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?(.*)$')
MARK = re.compile(r'^ownbuf-harness: begin (.*)$')
# A kselftest program writes its output to /dev/kmsg (run-tests.sh), and
# the kselftest harness writes "#  RUN F.T ..." before it forks each test.
PROGRAM = re.compile(r'^selftests (\S+)$')
RUN = re.compile(r'^#\s+RUN\s+(\S+) \.\.\.$')
KUNIT_SUITE = re.compile(r'^    # Subtest: (\S+)')
KUNIT_CASE = re.compile(r'^    (?:not )?ok \d+ (\S+)')
KUNIT_END = re.compile(r'^(?:not )?ok \d+ (\S+)')
RESULT = re.compile(r'^\s*(?:not )?ok \d+ (?:- )?(.*?)\s*(?:#\s*(\w+).*)?$')
RECORD_BEGIN = re.compile(r'^@@OWNBUF BEGIN (\S+) (\S+)$')
RECORD_END = re.compile(r'^@@OWNBUF END (\S+) (\S+) rc=(-?\d+)$')
# Allocator frames skipped when naming where a leaked object came from.
ALLOCATORS = re.compile(
    r'(_+)?(kmemleak|kmalloc|kzalloc|kcalloc|krealloc|kvmalloc|kvzalloc|'
    r'vmalloc|vzalloc|kmem_cache|kmem_|slab_|do_kmalloc|kasprintf|'
    r'kvasprintf|kstrdup|kmemdup|alloc_pages|folio_alloc|'
    r'_*slab_alloc|kvrealloc)')


class Items(list):
    """The items of one kernel."""

    def __init__(self, kernel):
        super().__init__()
        self.kernel = kernel

    def add(self, suite, name, status, category='', detail=''):
        self.append({'kernel': self.kernel, 'suite': suite, 'name': name,
                     'status': status,
                     'category': category if status != 'pass' else '',
                     'detail': detail.rstrip()})


def read_text(path, limit=None):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read().replace('\r', '')
    except OSError:
        return ''
    lines = text.split('\n')
    if limit and len(lines) > limit:
        text = '\n'.join(lines[:limit] + ['... (%d more lines in %s)'
                                          % (len(lines) - limit, path)])
    return text


def tail(lines, n=25):
    return '\n'.join([l for l in lines if l.strip()][-n:])


def parse_records(text):
    """The BEGIN/END records of the results channel, in order.  A record
    without END (the guest died in it) has rc None."""
    records, cur = [], None
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
        elif cur is not None:
            cur['lines'].append(line)
    if cur:
        records.append(cur)
    return records


# --------------------------------------------------------------------------
# Console

def kcsan_core(headline):
    """A KCSAN report whose racing functions KCSAN_CORE all lists: both of
    "data-race in F / G", or the one of "data-race in F"."""
    m = re.search(r'data-race in (\S+)(?: / (\S+))?', headline)
    return bool(m) and {f.split('+')[0] for f in m.groups() if f} <= KCSAN_CORE


def scan_console(text):
    """Splats of a console log with what was running when each happened.
    Returns (splats, last_label, panic_line)."""
    splats, pending = [], []   # pending: splats waiting for their KUnit case
    label, suite, prog, panic = 'boot', None, None, None
    lines = text.split('\n')
    for idx, raw in enumerate(lines):
        m = KMSG.match(raw)
        if not m:
            continue
        msg = m.group(1)
        mm = MARK.match(msg)
        if mm:
            label, suite = mm.group(1), None
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
                s['where'] = 'kunit %s.%s (during %s)' % (
                    suite, mc.group(1), s['where'])
            pending = []
            continue
        me = KUNIT_END.match(msg)
        if me and suite and me.group(1) == suite:
            suite = None
            continue
        cat = next((c for c, rx in SPLATS if rx.match(msg)), None)
        if cat is None:
            continue
        if cat == 'panic':
            panic = msg
            continue
        prev = splats[-1] if splats else None
        if (prev and cat in FOLLOWERS and prev['category'] != cat and
                idx - prev['line'] <= FOLLOWERS[cat]):
            continue
        if cat == 'kcsan' and kcsan_core(msg):
            print('[judge] not ownbuf\'s: %s' % msg)
            continue
        s = {'category': cat, 'headline': msg, 'line': idx, 'where': label,
             'context': '\n'.join(lines[idx:idx + 25])}
        splats.append(s)
        if suite:
            pending.append(s)
    for s in pending:
        s['where'] = 'kunit %s (during %s)' % (suite, s['where'])
    return splats, label, panic


# --------------------------------------------------------------------------
# Test streams: KUnit KTAP, kselftest TAP and the scripts' TAP, all parsed
# by the kernel's kunit.py.

def leaves(group, prefix=None):
    """(name, status) of the leaf cases of kunit.py's JSON: a kselftest
    program's tests, or a KUnit suite's cases (parameterised ones are
    groups, named GROUP.PARAM)."""
    out = [((prefix or '') + c['name'], c['status'])
           for c in group.get('test_cases', [])]
    for sub in group.get('sub_groups', []):
        out.extend(leaves(sub, '' if prefix is None else
                          prefix + sub['name'] + '.'))
    return out


def case_log(lines, name):
    """The lines of one case: from the previous result to its own."""
    start = 0
    for i, line in enumerate(lines):
        m = RESULT.match(line)
        if not m:
            continue
        if m.group(1) == name or m.group(1) == name.split('.')[-1]:
            return tail(lines[start:i + 1], 30)
        start = i + 1
    return ''


def kunit_parse(ktap, ksrc):
    """The kernel tree's kunit.py parser, in this process, on one stream:
    (cases, what it printed, whether it found the stream broken)."""
    sys.path.insert(0, os.path.join(ksrc, 'tools/testing/kunit'))
    # pylint: disable=import-outside-toplevel
    import kunit_json
    import kunit_parser
    import kunit_printer
    out = io.StringIO()
    kunit_parser.stdout = kunit_printer.Printer(out)
    test = kunit_parser.parse_run_tests(ktap.split('\n'))
    tree = json.loads(kunit_json.get_json_result(test, kunit_json.Metadata()))
    return (leaves(tree), out.getvalue(),
            test.status != kunit_parser.TestStatus.SUCCESS)


def judge_tap(items, suite, rec, ksrc):
    """One stream: a KUnit suite's results, a kselftest program's output or
    a test script's output (rc: the program's exit status; 137: killed by
    the guest-side timeout)."""
    lines, rc = rec['lines'], rec['rc']
    if rc is None:
        return          # the guest died in it: reported as the death
    body = [l for l in lines if not re.match(r'^\s*1\.\.\d+\s*$', l)]
    plans = [l for l in lines if re.match(r'^1\.\.\d+\s*$', l)]
    if not any(re.match(r'^\s*K?TAP version', l) for l in lines):
        # A script's TAP: a version line, and its plan (maybe the last
        # line) first, as kunit.py wants them.
        lines = ['TAP version 13'] + plans[:1] + body
    cases, summary, broken = kunit_parse('\n'.join(lines), ksrc)
    print('[judge] %s: %s: %s' % (items.kernel, suite, '; '.join(
        l.split('] ', 1)[-1] for l in summary.split('\n')
        if 'Testing complete' in l or '[ERROR]' in l)))
    summary = tail(summary.split('\n'), 20)
    killed = rc == 137
    failed = False
    for name, status in cases:
        log = case_log(lines, name)
        if status == 'PASS' and re.search(r'#\s*XFAIL', log.split('\n')[-1]):
            status = 'XFAIL is not a pass'
        if status == 'PASS':
            items.add(suite, name, 'pass')
        elif status == 'SKIP':
            items.add(suite, name, 'skip', 'skip', log)
        else:
            failed = True
            running = [m.group(1) for m in map(RUN.match, lines) if m]
            what = name or 'missing result (%s)' % (
                running[-1] if running else 'plan not met')
            items.add(suite, what, 'fail', 'timeout' if killed else
                      'kunit' if suite.startswith('kunit') else 'selftest',
                      '%s\n%s' % (status, log or tail(lines)))
    if killed and not failed:
        items.add(suite, 'timeout', 'fail', 'timeout',
                  'killed after the guest-side timeout\n' + tail(lines))
    elif not cases:
        items.add(suite, 'results', 'fail', 'selftest',
                  'kunit.py found no results (rc=%d)\n%s\n%s'
                  % (rc, summary, tail(lines)))
    elif broken and not failed:
        items.add(suite, 'stream', 'fail', 'selftest',
                  'kunit.py parse failed although every case passed\n'
                  + summary)
    elif rc != 0 and not failed:
        items.add(suite, 'exit status', 'fail', 'selftest',
                  'rc=%d, yet no test failed\n%s' % (rc, tail(lines)))


def judge_kmemleak(items, rec):
    objs, cur = [], None
    for line in rec['lines']:
        if line.startswith('unreferenced object'):
            cur = [line]
            objs.append(cur)
        elif cur is not None and line.startswith(' '):
            cur.append(line)
    for obj in objs:
        where = ''
        for line in obj:
            m = (re.match(r'^\s+\[<[0-9a-f]+>\] (\S+)', line) or
                 re.match(r'^\s+(\S+\+0x[0-9a-f]+/0x[0-9a-f]+)', line))
            if m and not ALLOCATORS.match(m.group(1)):
                where = ' from ' + m.group(1)
                break
        items.add('kmemleak', 'leak' + where, 'fail', 'kmemleak',
                  '\n'.join(obj[:30]))
    if not objs:
        items.add('kmemleak', 'no leaks', 'pass')


def judge_run(args):
    items = Items(args.kernel)
    console = read_text(os.path.join(args.dir, 'console.log'))
    status = read_text(os.path.join(args.dir, 'status')).strip() or 'died'
    records = parse_records(read_text(os.path.join(args.dir, 'results.log')))
    splats, label, panic = scan_console(console)
    want_kmemleak = saw_kmemleak = False
    tainted = None
    kunit_modules = kunit_suites = 0

    for rec in records:
        kind, name, rc = rec['kind'], rec['name'], rec['rc']
        if kind == 'meta':
            want_kmemleak |= 'kmemleak=yes' in rec['lines']
            for line in rec['lines']:
                if line.startswith('tainted=') and name == 'end':
                    tainted = int(line.split('=', 1)[1] or 0)
        elif kind in ('insmod', 'rmmod') and rc is not None:
            kunit_modules += kind == 'insmod' and name.endswith('_kunit')
            items.add('modules', '%s %s' % (kind, name),
                      'pass' if rc == 0 else 'fail', kind,
                      'rc=%d\n%s' % (rc, tail(rec['lines'])))
        elif kind in ('kunit', 'selftests', 'script'):
            kunit_suites += kind == 'kunit'
            judge_tap(items, {'selftests': 'selftest'}.get(kind, kind) +
                      ':' + name, rec, args.ksrc)
        elif kind == 'kmemleak':
            saw_kmemleak = True
            judge_kmemleak(items, rec)

    if status == 'done':
        if kunit_modules and not kunit_suites:
            items.add('kunit', 'suites', 'fail', 'kunit', 'KUnit modules '
                      'loaded but no suite in /sys/kernel/debug/kunit')
        if want_kmemleak and not saw_kmemleak:
            items.add('kmemleak', 'scan', 'fail', 'kmemleak',
                      'no kmemleak report came back')
    for s in splats:
        items.add('console', '%s in %s' % (s['category'], s['where']),
                  'fail', s['category'], '%s\n%s' % (s['headline'],
                                                     s['context']))
    if status == 'done':
        items.add('boot', 'run completed', 'pass')
        bad = ''.join(k for k, bit in TAINT_BAD.items()
                      if tainted and tainted & (1 << bit))
        if bad and not splats:
            items.add('console', 'taint', 'fail', 'taint',
                      'kernel tainted %s (%d) without a recognised report; '
                      'see the console' % (bad, tainted))
        elif not splats:
            items.add('console', 'no splats', 'pass')
    else:
        open_recs = [r for r in records if r['rc'] is None]
        running = ('%s %s' % (open_recs[-1]['kind'], open_recs[-1]['name'])
                   if open_recs else label)
        what = 'hang' if status == 'timeout' else 'death'
        idle = read_text(os.path.join(args.dir, 'idle')).strip()
        detail = '%s while running: %s\n%s--- console tail ---\n%s' % (
            (idle or 'timed out') if status == 'timeout' else
            'guest died early', running, panic + '\n' if panic else '',
            '\n'.join(console.split('\n')[-40:]))
        items.add('boot', '%s in %s' % (what, running), 'fail', what, detail)

    first = os.path.join(args.dir, 'first-attempt', 'console.log')
    if os.path.exists(first):
        print('[judge] %s: the first boot never reached /init and was '
              'retried; its console ended:' % args.kernel)
        print('    ' + '\n    '.join(read_text(first).split('\n')[-15:]))
    if args.out:
        with open(args.out, 'a', encoding='utf-8') as f:
            f.writelines(json.dumps(it) + '\n' for it in items)
    print_table(items)
    return 0


# --------------------------------------------------------------------------
# Report

def load_items(paths):
    """Items of .jsonl files (judged runs) and of .tsv files (host stages:
    kernel, suite, name, status, category, detail file)."""
    items = []
    for path in paths:
        for line in read_text(path).split('\n'):
            if not line.strip():
                continue
            if not path.endswith('.tsv'):
                items.append(json.loads(line))
                continue
            f = (line.split('\t') + [''] * 6)[:6]
            items.append({'kernel': f[0], 'suite': f[1], 'name': f[2],
                          'status': f[3], 'category': f[4],
                          'detail': read_text(f[5], 60) if f[5] else ''})
    return items


def print_table(items, title=None):
    rows = {}
    for it in items:
        rows.setdefault((it['kernel'], it['suite']), [0, 0, 0])[
            ('pass', 'fail', 'skip').index(it['status'])] += 1
    if title:
        print(title)
    w1 = max([len(k) for k, _ in rows] + [6])
    w2 = max([len(s) for _, s in rows] + [5])
    print('  %-*s  %-*s  %6s  %6s  %6s' % (w1, 'kernel', w2, 'suite',
                                           'passed', 'failed', 'skip'))
    for (k, s), (p, f, sk) in rows.items():
        print('  %-*s  %-*s  %6d  %6d  %6d%s' % (
            w1, k, w2, s, p, f, sk, '  <-- FAIL' if f or sk else ''))


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
            for line in it.get('detail', '').split('\n')[:40]:
                if line:
                    print('    ' + line)
        print()
    print_table(items, 'Summary:')
    passed = len(items) - len(bad)
    print('%d passed, %d failed' % (passed, len(bad)))
    return 1 if bad or not items else 0


def expect(args):
    """Exactly the expected failure categories and no other failure (a race
    may be reported more than once)."""
    bad = [it for it in load_items([args.items]) if it['status'] != 'pass']
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


def kunit_json(args):
    """Items of a "kunit.py run --json" (make kunit): one per case, a
    failed case with its lines of the console kunit.py kept."""
    items = Items(args.kernel)
    try:
        with open(args.json, encoding='utf-8') as f:
            tree = json.load(f)
    except (OSError, ValueError) as e:
        tree = {}
        print('[judge] %s: %s' % (args.json, e))
    console = read_text(args.console).split('\n')
    for suite in tree.get('sub_groups', []):
        for name, status in leaves(suite, ''):
            st = {'PASS': 'pass', 'SKIP': 'skip'}.get(status, 'fail')
            items.add('kunit:' + suite['name'], name, st,
                      'skip' if st == 'skip' else 'kunit',
                      case_log(console, name))
    # The kernel's reports, as for a guest of make check (kunit.py fails a
    # case only on a KASAN report inside it).
    text = '\n'.join(console)
    splats, _, panic = scan_console(text)
    for s in splats:
        items.add('console', '%s in %s' % (s['category'], s['where']),
                  'fail', s['category'], '%s\n%s' % (s['headline'],
                                                     s['context']))
    if panic:
        items.add('console', 'panic', 'fail', 'panic', panic)
    if not any(KMSG.match(line) for line in console):
        items.add('console', 'timestamps', 'fail', 'kunit',
                  'no timestamped kernel log line (CONFIG_PRINTK_TIME): '
                  'the console cannot be judged')
    elif items and not splats and not panic:
        items.add('console', 'no splats', 'pass')
    if not items or args.rc and all(it['status'] == 'pass' for it in items):
        items.add('kunit.py', 'kunit.py run', 'fail', 'kunit',
                  'rc=%d, %d cases\n%s' % (args.rc, len(items),
                                          read_text(args.log, 60)))
    with open(args.out, 'a', encoding='utf-8') as f:
        f.writelines(json.dumps(it) + '\n' for it in items)
    print_table(items)
    return 0


def splats_cmd(args):
    splats, _, panic = scan_console(read_text(args.console))
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
    p.add_argument('--ksrc', required=True, help='linux tree (kunit.py)')
    p.add_argument('--out', help='items file to append to')
    p.set_defaults(func=judge_run)
    p = sub.add_parser('report', help='failures, table, final count')
    p.add_argument('items', nargs='+')
    p.set_defaults(func=report)
    p = sub.add_parser('expect', help='assert the failure categories')
    p.add_argument('--items', required=True)
    p.add_argument('category', nargs='*')
    p.set_defaults(func=expect)
    p = sub.add_parser('kunit-json', help='items of kunit.py run --json')
    for a in ('--kernel', '--json', '--console', '--log', '--out'):
        p.add_argument(a, required=True)
    p.add_argument('--rc', type=int, default=0, help="kunit.py's status")
    p.set_defaults(func=kunit_json)
    p = sub.add_parser('splats', help='the splats of a console log')
    p.add_argument('console')
    p.set_defaults(func=splats_cmd)
    args = ap.parse_args()
    sys.exit(args.func(args))


if __name__ == '__main__':
    main()
