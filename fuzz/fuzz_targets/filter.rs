//! The RFC 4515 string filter parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let _ = oxldap_proto::Filter::parse(s);
});
