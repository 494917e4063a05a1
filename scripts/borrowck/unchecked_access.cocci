// SPDX-License-Identifier: GPL-2.0
/// The result of a bounds-checked read or write ignored: on failure
/// nothing was copied, and the caller goes on as if it had been.

@unchecked@
identifier fn =~ "^ownbuf_(owner_)?(read|write)$";
position p;
@@

(
fn@p(...);
|
 (void)fn@p(...);
)

@script:python@
p << unchecked.p;
fn << unchecked.fn;
@@

print("%s:%s: unchecked-access: the result of %s() is ignored"
      % (p[0].file, p[0].line, fn))
