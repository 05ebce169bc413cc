//! Measures the stack that the recursions over a nested filter use per level, for the
//! figures behind `oxldap_proto::stack` (run it on a debug build, the worst case):
//!
//! ```text
//! cargo run -p oxldap-proto --example filter_stack
//! ```
//!
//! For each case it finds, by bisection over child processes, the smallest thread stack
//! on which the case runs at depth 1,000 and at depth 10; the difference divided by 990
//! is the stack per level. A child that runs out of stack dies (Rust aborts on stack
//! overflow), which is the "too small" answer. Cases marked "guarded" run through
//! `oxldap_proto::stack` and should need about the same stack at both depths.
//!
//! Child mode (used by the parent): `filter_stack CASE DEPTH STACK_BYTES`.

use std::mem::ManuallyDrop;
use std::process::Command;

use lber::write;
use ldap3_proto::proto::{
    LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope,
};
use oxldap_proto::filter::Filter;

/// The cases measured: name and what it runs on a filter of the given depth.
const CASES: &[&str] = &[
    "lber_parse_and_ldap3_decode",
    "ldap3_filter_drop",
    "filter_drop",
    "filter_clone_eq_guarded",
    "filter_debug_guarded",
    "filter_display_guarded",
    "filter_from_ldap3_guarded",
    "codec_decode_guarded",
];

fn deep_filter(depth: usize) -> Filter {
    let mut f = Filter::Equality("uid".into(), b"ana".to_vec());
    for i in 0..depth {
        f = if i % 2 == 0 {
            Filter::And(vec![f, Filter::Present("cn".into())])
        } else {
            Filter::Not(Box::new(f))
        };
    }
    f
}

fn deep_ldap_filter(depth: usize) -> LdapFilter {
    let mut f = LdapFilter::Equality("uid".into(), "ana".into());
    for i in 0..depth {
        f = if i % 2 == 0 {
            LdapFilter::And(vec![f, LdapFilter::Present("cn".into())])
        } else {
            LdapFilter::Not(Box::new(f))
        };
    }
    f
}

/// The BER of a SearchRequest with a filter `depth` deep (built on a big stack).
fn search_pdu(depth: usize) -> Vec<u8> {
    let build = move || {
        let msg = LdapMsg {
            msgid: 1,
            op: LdapOp::SearchRequest(LdapSearchRequest {
                base: "dc=x".into(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: 0,
                timelimit: 0,
                typesonly: false,
                filter: deep_ldap_filter(depth),
                attrs: vec![],
            }),
            ctrl: vec![],
        };
        let mut buf = bytes::BytesMut::new();
        write::encode_into(&mut buf, msg.into()).expect("encodes");
        buf.to_vec()
    };
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(build)
        .expect("spawns")
        .join()
        .expect("joins")
}

/// Child mode: runs `case` at `depth` on a thread with `stack` bytes of stack.
fn child(case: &str, depth: usize, stack: usize) {
    let case = case.to_owned();
    // Inputs are built on another thread, outside the measured stack, and not dropped on
    // it unless the case measures a drop (the process exits without dropping them).
    let (filter, ldap_filter) = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || (deep_filter(depth), deep_ldap_filter(depth)))
        .expect("spawns")
        .join()
        .expect("joins");
    let (filter, ldap_filter) = (ManuallyDrop::new(filter), ManuallyDrop::new(ldap_filter));
    let pdu = search_pdu(depth);
    let run = move || match case.as_str() {
        "lber_parse_and_ldap3_decode" => {
            let (_, tag) = lber::parse::Parser::new().parse(&pdu).expect("parses");
            let msg = ManuallyDrop::new(LdapMsg::try_from(tag).expect("decodes"));
            assert_eq!(msg.msgid, 1);
        }
        "ldap3_filter_drop" => drop(ManuallyDrop::into_inner(ldap_filter)),
        "filter_drop" => drop(ManuallyDrop::into_inner(filter)),
        "filter_clone_eq_guarded" => {
            let c = ManuallyDrop::new((*filter).clone());
            assert!(*c == *filter);
        }
        "filter_debug_guarded" => {
            let s = format!("{:?}", *filter);
            assert!(!s.is_empty());
        }
        "filter_display_guarded" => {
            let s = filter.to_string();
            assert!(!s.is_empty());
        }
        "filter_from_ldap3_guarded" => {
            let f = ManuallyDrop::new(Filter::try_from(&*ldap_filter).expect("converts"));
            assert!(matches!(*f, Filter::And(_) | Filter::Not(_)));
        }
        "codec_decode_guarded" => {
            use tokio_util::codec::Decoder;
            let mut codec = oxldap_proto::ServerCodec::default();
            let mut buf = bytes::BytesMut::from(&pdu[..]);
            let frame = codec.decode(&mut buf).expect("decodes").expect("a frame");
            let frame = ManuallyDrop::new(frame);
            assert_eq!(frame.msgid, 1);
        }
        other => eprintln!("unknown case {other}"),
    };
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(run)
        .expect("spawns")
        .join()
        .expect("joins");
}

/// The smallest stack (to 1 KiB) on which `case` runs at `depth`, bisected.
fn smallest_stack(exe: &str, case: &str, depth: usize) -> usize {
    let runs = |stack: usize| {
        Command::new(exe)
            .args([case, &depth.to_string(), &stack.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let (mut lo, mut hi) = (16 * 1024, 256 * 1024 * 1024);
    if !runs(hi) {
        return usize::MAX;
    }
    while hi - lo > 1024 {
        let mid = lo + (hi - lo) / 2;
        if runs(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, case, depth, stack] = args.as_slice() {
        child(
            case,
            depth.parse().expect("depth"),
            stack.parse().expect("stack"),
        );
        return;
    }
    let exe = args.first().cloned().unwrap_or_default();
    println!("case                           stack@10  stack@1000  bytes/level");
    for case in CASES {
        let shallow = smallest_stack(&exe, case, 10);
        let deep = smallest_stack(&exe, case, 1000);
        println!(
            "{case:<30} {shallow:>8} {deep:>11} {:>12}",
            deep.saturating_sub(shallow) / 990
        );
    }
}
