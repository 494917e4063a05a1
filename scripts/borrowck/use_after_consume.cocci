// SPDX-License-Identifier: GPL-2.0
/// A handle used after ownbuf_drop(), ownbuf_move() or ownbuf_revoke()
/// consumed it on the same path, before anything stores a new handle in
/// it.  A drop or move whose result is checked consumes the handle on the
/// path past the check (where it succeeded).

@consume exists@
expression H, E, E2, X;
statement S;
identifier fn =~ "^ownbuf_(drop|revoke|move)$";
position p1, p2;
@@

(
fn@p1(&H, ...);
|
E = fn@p1(&H, ...);
... when != E
    when != H
if (\(E\|E < 0\|E != 0\)) S
|
if (\(fn@p1(&H, ...)\|fn@p1(&H, ...) < 0\|fn@p1(&H, ...) != 0\)) S
|
E = ownbuf_revoke@p1(&H);
)
... when any
    when != H = E2
    when != ownbuf_create(..., &H)
    when != ownbuf_move(&X, &H)
(
H = E2
|
ownbuf_create(..., &H)
|
ownbuf_move(&X, &H)
|
H@p2
)

@script:python@
p1 << consume.p1;
p2 << consume.p2;
fn << consume.fn;
H << consume.H;
@@

print("%s:%s: use-after-consume: %s used after %s() at line %s"
      % (p2[0].file, p2[0].line, H, fn, p1[0].line))

@consume_ptr exists@
struct ownbuf_handle *P;
expression E, E2, X;
statement S;
identifier fn =~ "^ownbuf_(drop|revoke|move)$";
identifier fn2 =~ "^ownbuf_(drop|revoke|move|resize|size|stat|owner_read|owner_write|borrow|borrow_shared|borrow_mut|borrow_ops)$";
position p1, p2;
@@

(
fn@p1(P, ...);
|
E = fn@p1(P, ...);
... when != E
    when != P
if (\(E\|E < 0\|E != 0\)) S
|
if (\(fn@p1(P, ...)\|fn@p1(P, ...) < 0\|fn@p1(P, ...) != 0\)) S
|
E = ownbuf_revoke@p1(P);
)
... when any
    when != P = E2
    when != *P = E2
    when != ownbuf_create(..., P)
    when != ownbuf_move(X, P)
(
P = E2
|
*P = E2
|
ownbuf_create(..., P)
|
ownbuf_move(X, P)
|
fn2@p2(P, ...)
|
fn2@p2(*P, ...)
)

@script:python@
p1 << consume_ptr.p1;
p2 << consume_ptr.p2;
fn << consume_ptr.fn;
P << consume_ptr.P;
@@

print("%s:%s: use-after-consume: *%s used after %s() at line %s"
      % (p2[0].file, p2[0].line, P, fn, p1[0].line))
