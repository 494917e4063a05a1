#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# modprobe.sh load|unload - ownbuf as a user installs it: the module DKMS
# installed from ownbuf-dkms ($OWNBUF_DKMS, under /lib/modules), found by
# depmod, loaded by modprobe with the options of /etc/modprobe.d/ and
# again with the defaults (before the tests), tried with the ownbuf command of ownbuf-tools (/usr/bin/ownbuf)
# and removed by "modprobe -r" (after them).  Prints TAP (run-tests.sh runs it as a script item).

# shellcheck shell=dash disable=SC2016,SC2317

n=0
fail=0

# t DESCRIPTION CMD... - one TAP result: CMD's exit status.
t()
{
	local what="$1" out

	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		echo "$out" | sed 's/^/# /'
		fail=1
	fi
}

mode_is()
{
	[ "$(stat -c %a /dev/ownbuf)" = "$1" ]
}

case $1 in
load)
	echo "1..6"
	t "depmod finds the module DKMS installed" \
		sh -c 'depmod && grep -q updates/dkms/ownbuf.ko \
		       "/lib/modules/$(uname -r)/modules.dep"'
	t "modinfo shows a version, the author and the parameters' units" \
		sh -c 'modinfo ownbuf | grep -q "^version: *[0-9]" &&
		       modinfo ownbuf | grep -q "^author:" &&
		       modinfo ownbuf | grep -q "max_size:.*bytes"'
	mkdir -p /etc/modprobe.d
	echo "options ownbuf dev_mode=0660" >/etc/modprobe.d/ownbuf.conf
	t "modprobe ownbuf" modprobe ownbuf
	t "/etc/modprobe.d/ownbuf.conf's dev_mode=0660 gives /dev/ownbuf 660" \
		mode_is 660
	# The tests expect the defaults.
	rm /etc/modprobe.d/ownbuf.conf
	t "modprobe -r, then modprobe without options" \
		sh -c 'modprobe -r ownbuf && modprobe ownbuf'
	t "/dev/ownbuf is 600 by default" mode_is 600
	;;
unload)
	echo "1..3"
	t "ownbuf demo (ownbuf-tools)" /usr/bin/ownbuf demo
	t "modprobe -r ownbuf" modprobe -r ownbuf
	t "/dev/ownbuf is gone" sh -c '! [ -e /dev/ownbuf ]'
	;;
*)
	echo "usage: modprobe.sh load|unload" >&2
	exit 2
	;;
esac
exit $fail
