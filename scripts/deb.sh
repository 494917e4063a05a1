#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# "make deb": the Debian packages ownbuf-dkms (the module's source, built
# by DKMS for every installed kernel) and ownbuf-tools (the ownbuf command
# and <linux/ownbuf.h>), made by dpkg-buildpackage and dh-dkms from a clean
# copy of the tree (debian/), then checked by lintian.  Everything lands in
# build/deb/: the .debs, build.log and lintian.txt.  Exit status 1 if the
# build fails or lintian reports an error or a warning.
#
# As a library (check.sh): deb_build DIR, deb_lintian DIR, deb_install DIR,
# deb_dkms KVER KDIR, deb_purge.

DEB_PACKAGES="dpkg-dev debhelper dh-dkms dkms lintian"
# Marks a kernel tree that deb_dkms created only so that DKMS may install
# into it (the host runs no such kernel); deb_purge removes it.  A file,
# not a variable: deb_dkms runs in a subshell.
DEB_MADE=.made-by-ownbuf-check

# deb_build DIR - the packages into DIR (build log: DIR/build.log, whose
# end is printed if the build fails).
deb_build()
{
	local dir=$1

	# shellcheck disable=SC2086
	ensure_packages $DEB_PACKAGES
	rm -rf "$dir"
	mkdir -p "$dir"
	copy_tree "$dir/src"
	(cd "$dir/src" && dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1 ||
		{ tail -n 40 "$dir/build.log"; return 1; }
}

# deb_lintian DIR - lintian on the packages in DIR: what it says, also in
# DIR/lintian.txt.
deb_lintian()
{
	# As an ordinary user, as lintian wants; it reads what it checks.
	chmod -R a+rX "$1"
	runuser -u nobody -- lintian --fail-on error,warning -I \
		"$1"/*.changes 2>&1 | tee "$1/lintian.txt"
}

# deb_install DIR - install both packages on this machine.  DKMS builds
# nothing yet: the host's kernel has no headers (and no modules).
deb_install()
{
	quietly "installing ownbuf-dkms and ownbuf-tools" apt-get install -y \
		-qq "$1"/ownbuf-dkms_*_all.deb "$1"/ownbuf-tools_*.deb
}

# deb_dkms KVER KDIR - DKMS builds ownbuf for KVER against the headers in
# KDIR and installs it into /lib/modules/KVER/updates/dkms.  Prints the
# installed module's path.
deb_dkms()
{
	local kver=$1 kdir=$2 version

	version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' \
		"$TOP/dkms.conf")
	if [ ! -d "/lib/modules/$kver" ]; then
		mkdir -p "/lib/modules/$kver"
		touch "/lib/modules/$kver/$DEB_MADE"
	fi
	dkms build -m ownbuf -v "$version" -k "$kver" \
		--kernelsourcedir "$kdir" >&2 &&
	dkms install -m ownbuf -v "$version" -k "$kver" \
		--kernelsourcedir "$kdir" >&2 &&
	find "/lib/modules/$kver/updates/dkms" -name 'ownbuf.ko*' | grep .
}

# deb_purge KVER... - remove both packages; DKMS must have taken the module
# out of every kernel's tree and its own.
deb_purge()
{
	local kver left=""

	quietly "purging ownbuf-dkms and ownbuf-tools" apt-get purge -y -qq \
		ownbuf-dkms ownbuf-tools || return 1
	for kver in "$@"; do
		left+=$(find "/lib/modules/$kver" -name 'ownbuf.ko*' 2>/dev/null)
	done
	[ -e /var/lib/dkms/ownbuf ] && left+=" /var/lib/dkms/ownbuf"
	compgen -G '/usr/src/ownbuf-*' >/dev/null && left+=" /usr/src/ownbuf-*"
	for kver in "$@"; do
		[ ! -e "/lib/modules/$kver/$DEB_MADE" ] || rm -rf "/lib/modules/$kver"
	done
	if [ -n "$left" ]; then
		echo "left behind after the purge: $left" >&2
		return 1
	fi
}

main()
{
	local dir=$TOP/build/deb rc=0

	[ $# -eq 0 ] || { usage_of "$0"; exit 2; }
	log "building the packages (log: $dir/build.log)"
	deb_build "$dir" || die "dpkg-buildpackage failed (log: $dir/build.log)"
	deb_lintian "$dir" || rc=$?
	ls "$dir"/*.deb
	[ $rc -eq 0 ] || die "lintian: see $dir/lintian.txt"
	log "lintian: no error, no warning"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# shellcheck source=scripts/lib/common.sh
	. "$(dirname "$0")/lib/common.sh"
	main "$@"
fi
