//! Bounded fuzzing of the slapd.conf parser (issue 8 §5): random directives, arguments,
//! quoting and continuation lines are accepted or refused with a `ConfigError`, never a
//! panic. `FUZZ_CASES` (default 256) sets the case count; `scripts/fuzz.sh` raises it.
#![allow(clippy::unwrap_used, clippy::panic)]

use oxldap_server::config::parse_str;
use proptest::prelude::*;
use std::path::Path;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

const WORDS: &[&str] = &[
    "database",
    "mdb",
    "suffix",
    "rootdn",
    "rootpw",
    "index",
    "overlay",
    "memberof",
    "syncprov",
    "sizelimit",
    "timelimit",
    "size.hard=5",
    "time.soft=unlimited",
    "conn_max",
    "idletimeout",
    "dbnosync",
    "include",
    "access",
    "to",
    "by",
    "*",
    "read",
    "limits",
    "\"dc=x\"",
    "\"",
    "\\",
    "eq,pres,sub",
    "-1",
    "0",
    "99999999999",
    "serverID",
    "password-hash",
    "{SSHA}",
    "memberof-dangling",
    "refint_attributes",
    "moduleload",
    "allow",
    "bind_v2",
    "checkpoint",
    "directory",
    "/tmp/x",
    "\n",
    "\n ",
    "\t",
    "#",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn config_parser_never_panics(words in prop::collection::vec(prop::sample::select(WORDS), 0..40)) {
        let mut text = String::new();
        for w in words {
            text.push_str(w);
            if w != "\n" && w != "\n " {
                text.push(' ');
            }
        }
        let _ = parse_str(&text, Path::new("fuzz.conf"));
    }

    #[test]
    fn config_parser_on_any_string(s in any::<String>()) {
        let _ = parse_str(&s, Path::new("fuzz.conf"));
    }
}
