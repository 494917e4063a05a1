#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Drive "make vm" the way a user at a terminal does: in a pseudo-terminal,
# wait for the guest's shell, type commands, check what they print, end
# "ownbuf violations --watch" with Ctrl-C, and "poweroff -f".  Every step
# has a bound: a guest that never reads the terminal (QEMU stopped by
# SIGTTIN outside the foreground process group) fails the step that waits
# for it, and the whole process group is killed.
#
#   vm-pty.py TRANSCRIPT [CMD...]   (default CMD: make -C <top> vm)
#
# Exit status: 0 all steps passed, 1 a step failed (the reason on stderr,
# everything the terminal showed in TRANSCRIPT).

import os
import pty
import re
import select
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# busybox ash's prompt, and the cursor position query its line editing
# sends after it.
PROMPT = rb"[#$] (?:\x1b\[6n)?$"


class Term:
    def __init__(self, argv, transcript):
        self.log = open(transcript, "wb")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            # Not a sub-make of whoever runs us: its jobserver is not ours.
            for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
                os.environ.pop(var, None)
            os.execvp(argv[0], argv)
        self.buf = b""

    def expect(self, pattern, bound, step):
        """Read until @pattern matches what came since the last match."""
        deadline = time.monotonic() + bound
        rx = re.compile(pattern, re.M)
        while True:
            m = rx.search(self.buf)
            if m:
                seen, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return seen
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"{step}: nothing matching {pattern!r} within "
                          f"{bound}s")
            if select.select([self.fd], [], [], min(left, 1.0))[0]:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    self.fail(f"{step}: the terminal closed")
                self.log.write(data)
                self.log.flush()
                self.buf += data

    def send(self, text):
        os.write(self.fd, text.encode())

    def run(self, cmd, pattern, bound, step):
        self.send(cmd + "\r")
        out = self.expect(pattern, bound, step)
        self.expect(PROMPT, bound, step + " (prompt after)")
        return out

    def wait_exit(self, bound, step):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.5)[0]:
                try:
                    data = os.read(self.fd, 4096)
                    self.log.write(data)
                except OSError:
                    pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        self.fail(f"{step}: still running after {bound}s")

    def fail(self, why):
        print(f"vm-pty: FAIL: {why}", file=sys.stderr)
        # The whole session: timeout(1) puts QEMU in a process group of
        # its own, and a stopped QEMU ignores everything but SIGKILL.
        subprocess.run(["pkill", "-KILL", "-s", str(self.pid)], check=False)
        sys.exit(1)


def shell_session(argv, transcript):
    t = Term(argv, transcript)
    # Building the module and the tool comes first on a cold tree.
    t.expect(rb"ready in \d+s; booting", 900, "make vm builds and boots")
    t.expect(rb"Ctrl-A x ends the VM", 120, "boot to the guest's shell")
    t.expect(PROMPT, 60, "the first prompt")
    return t


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: vm-pty.py TRANSCRIPT [CMD...]")
    vm = sys.argv[2:] or ["make", "-s", "-C", TOP, "vm"]

    t = shell_session(vm, sys.argv[1])
    t.run("ownbuf info 3 3<>/dev/ownbuf",
          rb"^3: ownbuf owner of buffer \d+.*\n.*role +owner", 60,
          "ownbuf info")
    t.run("ownbuf violations", rb"^use_after_free +\d+", 60,
          "ownbuf violations")
    # A change while --watch runs appears as one line; Ctrl-C ends it, 0.
    t.send("(sleep 2; ownbuf demo >/dev/null 2>&1) & "
           "ownbuf violations --watch --interval 0.5\r")
    t.expect(rb"^\d\d:\d\d:\d\d \w+ +\+\d+ \(total \d+\)", 120,
             "violations --watch shows a change")
    time.sleep(1)
    t.send("\x03")
    t.expect(PROMPT, 30, "Ctrl-C ends the watch")
    t.run("echo watch-rc=$?", rb"^watch-rc=0\r*$", 30,
          "violations --watch exits 0 on Ctrl-C")
    t.send("wait; poweroff -f\r")
    rc = t.wait_exit(120, "poweroff -f ends make vm")
    if rc != 0:
        t.fail(f"make vm exited {rc} after poweroff -f")

    # Ctrl-A x ends it too, and the terminal is itself again afterwards.
    t = shell_session(["sh", "-c", '"$@"; echo "vm-rc=$?"; stty -a', "sh"]
                      + vm, sys.argv[1] + ".ctrl-a")
    t.send("\x01x")
    t.expect(rb"vm-rc=0\r*$", 60, "Ctrl-A x ends make vm")
    t.expect(rb"(?<![-\w])icanon\b.*(?<![-\w])echo\b", 30,
             "the terminal is back in canonical mode with echo")
    t.wait_exit(30, "the shell after make vm")
    print("vm-pty: ok")


if __name__ == "__main__":
    main()
