//! Stack headroom for the recursions over client-sized trees: filters (RFC 4511
//! §4.5.1.7 nests `and`/`or`/`not` without bound) and the BER they arrive in.
//!
//! A filter may nest up to [`crate::filter::MAX_DEPTH`] levels (1,000 operators, as
//! slapd's `SLAPD_MAX_FILTER_DEPTH`). Every function that recurses once per level (parse,
//! convert, display, normalize, plan, evaluate, ACL checks) runs its body through
//! [`guard`], which moves onto a fresh heap-allocated stack segment ([`stacker`]) when
//! less than [`RED_ZONE`] bytes are left on the current one. So the depth a thread can
//! take no longer depends on its stack size: tokio workers and `spawn_blocking` threads
//! (2 MiB), the writer and fan-out threads, and the test harness's threads alike.
//!
//! Recursion inside other crates (`lber`'s BER parser and `ldap3_proto`'s `LdapFilter`
//! decoding) cannot be guarded level by level; [`with_levels`] reserves room for the
//! whole nesting before calling them. The figures in [`EXTERNAL_BYTES_PER_LEVEL`] come
//! from `proto/examples/filter_stack.rs` (debug builds are the worst case).
//!
//! This module must not know what it guards: it only manages stack space.

/// Below this many bytes of stack left, [`guard`] continues on a new segment. One level
/// of any guarded recursion, with the leaf work it calls (matching-rule normalization,
/// formatting), uses far less than this in a debug build (see
/// [`EXTERNAL_BYTES_PER_LEVEL`] for the measured figures).
pub const RED_ZONE: usize = 256 * 1024;

/// The size of each new stack segment [`guard`] allocates (virtual memory: pages are
/// committed only as they are touched, and the segment is freed when the call returns).
pub const SEGMENT: usize = 4 * 1024 * 1024;

/// Bytes of stack reserved per BER nesting level for the recursive decoders of other
/// crates (`lber::parse::parse_tag`, `ldap3_proto`'s `TryFrom<StructureTag>` for
/// `LdapFilter`) and for the derived, recursive `Drop`/`Clone` of the trees they build.
/// Measured in a debug build with `cargo run -p oxldap-proto --example filter_stack`
/// (2026-11-30): `lber` parse plus `ldap3_proto` decode 1,392 bytes per level, the
/// derived drop of a `Filter` 140, of an `LdapFilter` 44; the guarded recursions
/// (display, convert, clone, compare, decode through the codec) need no more stack at
/// 1,000 levels than at 10. This keeps a factor of about 3 over the largest.
pub const EXTERNAL_BYTES_PER_LEVEL: usize = 4 * 1024;

/// Runs `f`, first moving to a new [`SEGMENT`]-byte stack when less than [`RED_ZONE`]
/// bytes are left on this one. Call it at the top of each level of a recursion over a
/// client-supplied tree. The check is a thread-local read and a comparison.
#[inline]
pub fn guard<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs `f`, which recurses `levels` deep in code that cannot call [`guard`], with at
/// least `levels * EXTERNAL_BYTES_PER_LEVEL + RED_ZONE` bytes of stack (on a new segment
/// of that size when this stack has less left).
pub fn with_levels<R>(levels: usize, f: impl FnOnce() -> R) -> R {
    let need = levels
        .saturating_mul(EXTERNAL_BYTES_PER_LEVEL)
        .saturating_add(RED_ZONE);
    stacker::maybe_grow(need, need.saturating_add(RED_ZONE), f)
}
