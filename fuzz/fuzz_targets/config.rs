//! The slapd.conf parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let _ = oxldap_server::config::parse_str(s, std::path::Path::new("fuzz.conf"));
});
