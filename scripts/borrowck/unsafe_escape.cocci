// SPDX-License-Identifier: GPL-2.0
/// A pointer from ownbuf_unsafe_begin() used after ownbuf_unsafe_end() of
/// the same borrow, or stored (outside the function's own variables) or
/// returned while the section is open: it must not outlive the section.

@after exists@
expression R, L, E;
local idexpression P;
position p1, p2;
@@

P = ownbuf_unsafe_begin(R, L);
...
ownbuf_unsafe_end@p1(R);
... when any
    when != P = E
(
P = E
|
P@p2
)

@script:python@
p1 << after.p1;
p2 << after.p2;
P << after.P;
@@

print("%s:%s: unsafe-escape: %s used after ownbuf_unsafe_end() at line %s"
      % (p2[0].file, p2[0].line, P, p1[0].line))

@after_decl exists@
expression R, L, E;
type T;
identifier P;
position p1, p2;
@@

T P = ownbuf_unsafe_begin(R, L);
...
ownbuf_unsafe_end@p1(R);
... when any
    when != P = E
(
P = E
|
P@p2
)

@script:python@
p1 << after_decl.p1;
p2 << after_decl.p2;
P << after_decl.P;
@@

print("%s:%s: unsafe-escape: %s used after ownbuf_unsafe_end() at line %s"
      % (p2[0].file, p2[0].line, P, p1[0].line))

@stored exists@
expression R, L, X;
local idexpression P, Q;
type T;
position p2;
@@

P = ownbuf_unsafe_begin(R, L);
... when != ownbuf_unsafe_end(R)
(
Q = \(P\|(T)P\);
|
X@p2 = \(P\|(T)P\);
|
return@p2 \(P\|(T)P\);
)

@script:python@
p2 << stored.p2;
P << stored.P;
@@

print("%s:%s: unsafe-escape: %s stored or returned beyond its unsafe section"
      % (p2[0].file, p2[0].line, P))

@stored_decl exists@
expression R, L, X;
local idexpression Q;
identifier P;
type T, T2;
position p2;
@@

T P = ownbuf_unsafe_begin(R, L);
... when != ownbuf_unsafe_end(R)
(
Q = \(P\|(T2)P\);
|
X@p2 = \(P\|(T2)P\);
|
return@p2 \(P\|(T2)P\);
)

@script:python@
p2 << stored_decl.p2;
P << stored_decl.P;
@@

print("%s:%s: unsafe-escape: %s stored or returned beyond its unsafe section"
      % (p2[0].file, p2[0].line, P))

@stored_direct@
expression X;
local idexpression Q;
position p2;
@@

(
Q = ownbuf_unsafe_begin(...)
|
X@p2 = ownbuf_unsafe_begin(...)
)

@script:python@
p2 << stored_direct.p2;
@@

print("%s:%s: unsafe-escape: pointer from ownbuf_unsafe_begin() stored beyond the function"
      % (p2[0].file, p2[0].line))
