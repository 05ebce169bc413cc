//! The RFC 2849 LDIF reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for rec in oxldap_proto::LdifReader::new(data).take(1000) {
        let _ = rec;
    }
});
