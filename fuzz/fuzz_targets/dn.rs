//! The RFC 4514 DN and RDN parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Ok(dn) = oxldap_proto::Dn::parse(s) {
        let _ = oxldap_proto::Dn::parse(&dn.to_string());
    }
    let _ = oxldap_proto::Rdn::parse(s);
});
