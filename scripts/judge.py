#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge ownbuf test runs, with the kernel tree's kunit.py parser.

Every verdict is an item: kernel, suite, name, status (pass, fail, skip),
category, detail.  run judges a guest run into JSON lines; host stages
write tab-separated lines (item() in scripts/check.sh); report reads both.

What counts as a failure, in one place:
  * an item that is not "pass": a skipped test, an XFAIL, too;
  * any kernel report on the console (SPLATS below), whatever the tests
    said, and a kernel tainted by one that was not recognised (TAINT_BAD);
  * a test stream (KUnit KTAP, kselftest TAP, a script's TAP) that kunit.py
    parse finds broken: fewer results than its plan, no results, a
    program killed by its timeout, a non-zero exit with nothing failed;
    KUnit modules loaded but no suite run;
  * a leak kmemleak reports after the module is unloaded, or no report;
  * a guest that hangs or dies before its run is done;
  * no items at all.
"""

import argparse
import io
import json
import os
import re
import sys

# Kernel reports: only kernel log lines (printk's "[  1.234]" timestamp),
# matched at the start of the message, so that test output that merely
# mentions "WARNING" is no report.
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

# Data races KCSAN reports in the core kernel under QEMU/TCG, by the
# functions of the headline ("data-race in A / B"): shown, not judged.
# ownbuf may be further down the stacks (printk's caller, the interrupted
# task) but cannot race inside them.
KCSAN_CORE = {
    # printk's console_waiter handover, when KUnit race workers report
    'console_lock_spinning_disable_and_check', 'vprintk_emit',
    # RCU's quiescent-state hints, when a KUnit window test hogs a CPU
    'rcu_sched_clock_irq', 'rcu_watching_snap_recheck',
}

# A report of these categories a few lines after another report is part
# of it (the WARN under a refcount_t message, the Oops under a BUG: ...).
FOLLOWERS = {'warning': 6, 'oops': 12, 'bug': 6}
TAINT_BAD = {'B': 5, 'D': 7, 'W': 9, 'L': 14}

KMSG = re.compile(r'^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?(.*)$')
MARK = re.compile(r'^ownbuf-harness: begin (.*)$')
# A kselftest program writes to /dev/kmsg (run-tests.sh): "#  RUN F.T ..."
# comes before each test.
PROGRAM = re.compile(r'^selftests (\S+)$')
RUN = re.compile(r'^#\s+RUN\s+(\S+) \.\.\.$')
KUNIT_SUITE = re.compile(r'^    # Subtest: (\S+)')
KUNIT_CASE = re.compile(r'^    (?:not )?ok \d+ (\S+)')
KUNIT_END = re.compile(r'^(?:not )?ok \d+ (\S+)')
RESULT = re.compile(r'^\s*(?:not )?ok \d+ (?:- )?(.*?)\s*(?:#\s*(\w+).*)?$')
RECORD_BEGIN = re.compile(r'^@@OWNBUF BEGIN (\S+) (\S+)$')
RECORD_END = re.compile(r'^@@OWNBUF END (\S+) (\S+) rc=(-?\d+)$')
# A kmemleak backtrace's frames, and the allocators among them, skipped
# when naming where a leaked object came from.
FRAME = re.compile(
    r'^\s+(?:\[<[0-9a-f]+>\] (\S+)|(\S+\+0x[0-9a-f]+/0x[0-9a-f]+))')
ALLOCATORS = re.compile(
    r'_*(kmemleak|kmalloc|kzalloc|kcalloc|krealloc|kvmalloc|kvzalloc|'
    r'vmalloc|vzalloc|kmem_|slab_|do_kmalloc|kasprintf|kvasprintf|'
    r'kstrdup|kmemdup|alloc_pages|folio_alloc|kvrealloc)')


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

    def write(self, path):
        with open(path, 'a', encoding='utf-8') as f:
            f.writelines(json.dumps(it) + '\n' for it in self)


def read_text(path, limit=None):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.read().replace('\r', '').split('\n')
    except OSError:
        return ''
    if limit and len(lines) > limit:
        lines[limit:] = ['... (%d more lines in %s)'
                         % (len(lines) - limit, path)]
    return '\n'.join(lines)


def tail(lines, n=25):
    return '\n'.join([l for l in lines if l.strip()][-n:])


def parse_records(text):
    """The BEGIN/END records of the results channel, in order; rc None: no
    END (the guest died in it)."""
    records, cur = [], None
    for line in text.split('\n'):
        b, e = RECORD_BEGIN.match(line), RECORD_END.match(line)
        if b:
            cur = {'kind': b.group(1), 'name': b.group(2), 'lines': [],
                   'rc': None}
            records.append(cur)
        elif cur and e and e.group(1, 2) == (cur['kind'], cur['name']):
            cur['rc'] = int(e.group(3))
            cur = None
        elif cur:
            cur['lines'].append(line)
    return records


def kcsan_core(headline):
    """Whether KCSAN_CORE lists every racing function of the headline."""
    m = re.search(r'data-race in (\S+)(?: / (\S+))?', headline)
    return bool(m) and {f.split('+')[0] for f in m.groups() if f} <= KCSAN_CORE


def scan_console(text):
    """The splats of a console log, each with what was running (the last
    mark, kselftest "RUN" line or KUnit case): (splats, label, panic)."""
    splats, pending = [], []   # pending: splats waiting for their KUnit case
    label, suite, prog, panic = 'boot', None, None, None
    lines = text.split('\n')
    for idx, raw in enumerate(lines):
        m = KMSG.match(raw)
        if not m:
            continue
        msg = m.group(1)
        mm, mr = MARK.match(msg), RUN.match(msg) if prog else None
        mc, me = KUNIT_CASE.match(msg), KUNIT_END.match(msg)
        if mm:
            label, suite = mm.group(1), None
            mp = PROGRAM.match(label)
            prog = mp.group(1) if mp else None
        elif mr:
            label = 'selftest %s:%s' % (prog, mr.group(1))
        elif KUNIT_SUITE.match(msg):
            suite = KUNIT_SUITE.match(msg).group(1)
        elif mc and suite:
            for s in pending:
                s['where'] = 'kunit %s.%s (during %s)' % (
                    suite, mc.group(1), s['where'])
            pending = []
        elif me and suite and me.group(1) == suite:
            suite = None
        else:
            cat = next((c for c, rx in SPLATS if rx.match(msg)), None)
            prev = splats[-1] if splats else None
            if cat == 'panic':
                panic = msg
            elif (cat is None or prev and cat in FOLLOWERS and
                  prev['category'] != cat and
                  idx - prev['line'] <= FOLLOWERS[cat]):
                continue
            elif cat == 'kcsan' and kcsan_core(msg):
                print('[judge] not ownbuf\'s: %s' % msg)
            else:
                splats.append({'category': cat, 'headline': msg, 'line': idx,
                               'where': label,
                               'context': '\n'.join(lines[idx:idx + 25])})
                if suite:
                    pending.append(splats[-1])
    for s in pending:
        s['where'] = 'kunit %s (during %s)' % (suite, s['where'])
    return splats, label, panic


def leaves(group, prefix=None):
    """(name, status) of the leaf cases of kunit.py's JSON (a parameterised
    KUnit case is a group: GROUP.PARAM)."""
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
        if m and m.group(1) in (name, name.split('.')[-1]):
            return tail(lines[start:i + 1], 30)
        start = i + 1 if m else start
    return ''


def kunit_parse(ktap, ksrc):
    """The kernel tree's kunit.py parser on one stream: (cases, what it
    printed, whether it found the stream broken)."""
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
    """One stream: a KUnit suite's KTAP, a kselftest program's or a test
    script's TAP (rc: the exit status; 137: killed by the guest's timeout;
    None: the guest died in it, reported as the death)."""
    lines, rc = rec['lines'], rec['rc']
    if rc is None:
        return
    if not any(re.match(r'^\s*K?TAP version', l) for l in lines):
        # A script's TAP: a version line and its plan (maybe its last
        # line) first, as kunit.py wants them.
        plans = [l for l in lines if re.match(r'^1\.\.\d+\s*$', l)]
        lines = ['TAP version 13'] + plans[:1] + [
            l for l in lines if not re.match(r'^\s*1\.\.\d+\s*$', l)]
    cases, summary, broken = kunit_parse('\n'.join(lines), ksrc)
    print('[judge] %s: %s: %s' % (items.kernel, suite, '; '.join(
        l.split('] ', 1)[-1] for l in summary.split('\n')
        if 'Testing complete' in l or '[ERROR]' in l)))
    summary = tail(summary.split('\n'), 20)
    killed, failed = rc == 137, False
    for name, status in cases:
        log = case_log(lines, name)
        if status == 'PASS' and re.search(r'#\s*XFAIL', log.split('\n')[-1]):
            status = 'XFAIL is not a pass'
        if status in ('PASS', 'SKIP'):
            items.add(suite, name, status.lower(), 'skip',
                      log if status == 'SKIP' else '')
            continue
        failed = True
        running = [m.group(1) for m in map(RUN.match, lines) if m]
        items.add(suite, name or 'missing result (%s)' % (
            running[-1] if running else 'plan not met'), 'fail',
                  'timeout' if killed else 'kunit'
                  if suite.startswith('kunit') else 'selftest',
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
    objs = []
    for line in rec['lines']:
        if line.startswith('unreferenced object'):
            objs.append([line])
        elif objs and line.startswith(' '):
            objs[-1].append(line)
    for obj in objs:
        frames = [m.group(1) or m.group(2) for m in map(FRAME.match, obj) if m]
        where = next((' from ' + f for f in frames
                      if not ALLOCATORS.match(f)), '')
        items.add('kmemleak', 'leak' + where, 'fail', 'kmemleak',
                  '\n'.join(obj[:30]))
    if not objs:
        items.add('kmemleak', 'no leaks', 'pass')


def add_splats(items, splats):
    for s in splats:
        items.add('console', '%s in %s' % (s['category'], s['where']), 'fail',
                  s['category'], '%s\n%s' % (s['headline'], s['context']))


def judge_run(args):
    """One guest run (guest.sh's OUTDIR); with --expect, the harness
    self-test: exactly the failures of those categories, no other."""
    items = Items(args.kernel)
    console = read_text(os.path.join(args.dir, 'console.log'))
    status = read_text(os.path.join(args.dir, 'status')).strip() or 'died'
    records = parse_records(read_text(os.path.join(args.dir, 'results.log')))
    splats, label, panic = scan_console(console)
    want_kmemleak = saw_kmemleak = False
    tainted, kunit_modules, kunit_suites = None, 0, 0

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
        elif kind in ('kunit', 'selftests', 'script', 'kselftest'):
            kunit_suites += kind == 'kunit'
            judge_tap(items, {'selftests': 'selftest'}.get(kind, kind) +
                      ':' + name, rec, args.ksrc)
            # kselftest's runner passes a program that skipped some of
            # its tests: a skip is not a pass.
            for line in rec['lines'] if kind == 'kselftest' else ():
                m = re.match(r'^# +ok \d+ (.*?)\s*# SKIP\b(.*)', line)
                if m:
                    items.add('kselftest:' + name, m.group(1), 'skip',
                              'skip', line)
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
    add_splats(items, splats)
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

    items.write(args.out)
    print_table(items)
    if args.expect is None:
        return 0
    bad = [it for it in items if it['status'] != 'pass']
    # A kernel report of an expected category is the canary's only if it
    # names the canary: where it happened, or (lockdep's headline names no
    # place) anywhere in it.  ownbuf's own KCSAN report in the race sin,
    # say, is no expected one.
    for it in bad:
        head = it['detail'].split('\n')[0]
        if it['suite'] == 'console' and 'ownbuf_canary' not in (
                head if re.search(r' (in|at) ', head) else it['detail']):
            it['category'] = 'not the canary\'s ' + it['category']
    got, want = sorted({it['category'] for it in bad}), sorted(set(args.expect))
    print('[judge] expected failures: %s; got: %s' % (
        ', '.join(want) or 'none', ', '.join(got) or 'none'))
    for it in bad:
        print('    [%s] %s: %s' % (it['suite'], it['name'], it['category']))
    return 0 if got == want else 1


def load_items(paths):
    """Items of .jsonl files and of .tsv files (kernel, suite, name,
    status, category, detail file)."""
    items = []
    for path in paths:
        for line in filter(str.strip, read_text(path).split('\n')):
            if not path.endswith('.tsv'):
                items.append(json.loads(line))
                continue
            f = (line.split('\t') + [''] * 6)[:6]
            items.append(dict(zip(('kernel', 'suite', 'name', 'status',
                                   'category'), f),
                              detail=read_text(f[5], 60) if f[5] else ''))
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
            for line in filter(None, it.get('detail', '').split('\n')[:40]):
                print('    ' + line)
        print()
    print_table(items, 'Summary:')
    print('%d passed, %d failed' % (len(items) - len(bad), len(bad)))
    return 1 if bad or not items else 0


def kunit_json(args):
    """Items of "kunit.py run --json" (make kunit), one per case."""
    items = Items(args.kernel)
    try:
        tree = json.loads(read_text(args.json))
    except ValueError as e:
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
    splats, _, panic = scan_console('\n'.join(console))
    add_splats(items, splats)
    if panic:
        items.add('console', 'panic', 'fail', 'panic', panic)
    # A console without timestamps cannot be judged: kunit.sh fails then.
    if items and not splats and not panic:
        items.add('console', 'no splats', 'pass')
    if not items or args.rc and all(it['status'] == 'pass' for it in items):
        items.add('kunit.py', 'kunit.py run', 'fail', 'kunit',
                  'rc=%d, %d cases\n%s' % (args.rc, len(items),
                                          read_text(args.log, 60)))
    items.write(args.out)
    print_table(items)
    return 0


def kunit_passed(args):
    """Status 0 if kunit.py's JSON has cases and every one passed."""
    try:
        cases = leaves(json.loads(read_text(args.json)), '')
    except ValueError:
        cases = []
    return 0 if cases and all(st == 'PASS' for _, st in cases) else 1


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

    def cmd(name, func, what, *opts):
        p = sub.add_parser(name, help=what)
        p.set_defaults(func=func)
        for o in opts:
            p.add_argument(o, required=True)
        return p

    p = cmd('run', judge_run, 'judge one guest run, append its items to '
            '--out', '--kernel', '--dir', '--ksrc', '--out')
    p.add_argument('--expect', nargs='*', metavar='CATEGORY')
    cmd('report', report, 'failures, table, then "N passed, N failed"; '
        'status 1 on any failure').add_argument('items', nargs='+')
    p = cmd('kunit-json', kunit_json, 'the items of "kunit.py run --json"',
            '--kernel', '--json', '--console', '--log', '--out')
    p.add_argument('--rc', type=int, default=0, help="kunit.py's status")
    cmd('kunit-passed', kunit_passed, 'status 0 if every case of a '
        '"kunit.py run --json" passed').add_argument('json')
    cmd('splats', splats_cmd, 'the splats of a console log; status 1 if '
        'any').add_argument('console')
    args = ap.parse_args()
    sys.exit(args.func(args))


if __name__ == '__main__':
    main()
