//! Test-only panic hooks, so a test can prove that a panic inside a connection ends only
//! that connection (issue 8 §5). They exist only in debug builds (`debug_assertions`, as
//! `cargo test` builds the binary) and only when the server was started with
//! `OXLDAP_TEST_PANIC_HOOKS=1` in its environment; release builds compile them to nothing,
//! so no client can trigger them in production.

/// An extended request with this name panics on the blocking pool (where store code runs).
pub const PANIC_IN_OPERATION_OID: &str = "2.25.0.8.5.1";
/// An extended request with this name panics in the connection's reader task.
pub const PANIC_IN_CONNECTION_OID: &str = "2.25.0.8.5.2";

/// Panics when hooks are on and `name` is [`PANIC_IN_OPERATION_OID`].
#[cfg(debug_assertions)]
#[allow(clippy::panic)] // The purpose of the hook; absent from release builds.
pub fn maybe_panic(name: &str) {
    if name == PANIC_IN_OPERATION_OID && enabled() {
        panic!("test hook: panic in an operation");
    }
}

/// Panics when hooks are on and `name` is [`PANIC_IN_CONNECTION_OID`].
#[cfg(debug_assertions)]
#[allow(clippy::panic)] // The purpose of the hook; absent from release builds.
pub fn maybe_panic_in_connection(name: &str) {
    if name == PANIC_IN_CONNECTION_OID && enabled() {
        panic!("test hook: panic in a connection task");
    }
}

#[cfg(debug_assertions)]
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("OXLDAP_TEST_PANIC_HOOKS").is_some_and(|v| v == "1"))
}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline]
pub fn maybe_panic(_name: &str) {}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline]
pub fn maybe_panic_in_connection(_name: &str) {}
