// SPDX-License-Identifier: GPL-2.0
/// A borrow taken into a token on the stack and not ended (released or
/// discarded) on some path out of the function.  A token whose address is
/// stored, or handed to anything but ownbuf's accessors, may be ended
/// elsewhere: not reported.  The scope-bound classes (CLASS(ownbuf_shared)
/// and the others) end their borrows themselves.

@leak exists@
local idexpression struct ownbuf_ref R;
expression E, X;
statement S;
identifier fn =~ "^ownbuf_borrow(_shared|_mut|_ops)?$";
identifier other !~ "^ownbuf_(read|write|ref_stat|ref_state|unsafe_begin|unsafe_end)$";
position p1, p2;
@@

(
E = fn@p1(..., &R);
... when != E
if (\(E\|E < 0\|E != 0\)) S
|
if (\(fn@p1(..., &R)\|fn@p1(..., &R) < 0\|fn@p1(..., &R) != 0\)) S
|
fn@p1(..., &R);
)
... when any
    when != ownbuf_release(&R)
    when != ownbuf_ref_discard(&R)
    when != other(..., &R, ...)
    when != X = &R
return@p2 ...;

@script:python@
p1 << leak.p1;
p2 << leak.p2;
R << leak.R;
@@

print("%s:%s: borrow-not-released: borrow in %s still out on the path leaving at line %s"
      % (p1[0].file, p1[0].line, R, p2[0].line))
