#![allow(clippy::unwrap_used, clippy::panic)]
//! Differential test of approximate filters (`~=`, RFC 4511 §4.5.1.7.6) against a real
//! Debian slapd 2.5, whose phonetic matching oxldap reproduces (`oxldap_schema::approx`).
//!
//! The same generated directory is served by a slapd bulk-loaded with slapadd
//! (`filters_vs_slapd/start-slapd.sh`, the Axigen guide's configuration: no approx index)
//! and by two oxldap servers: one with `index ... approx` on the attributes searched, one
//! without. The directory: the people of the first [`USERS_FROM_FIXTURE`] users of the
//! Axigen fixture (names with non-ASCII letters such as `Ångström` and `王`), plus
//! [`EDGE_VALUES`] (multi-word values, punctuation, digits, non-ASCII letters,
//! ligatures, full-width letters, empty words, long words, the Metaphone rules' letter
//! combinations) as extra `cn` values, `description` values and `displayName`s.
//! The filters: for sampled users, the names as written and misspelt in ways the
//! phonetic code forgives or not (vowels changed, letters doubled, `ph`/`f`, `c`/`k`,
//! accents added and removed, words swapped, dropped, added or joined by punctuation),
//! the edge values and [`EDGE_ASSERTIONS`], on `cn`, `sn`, `givenName`, `mail`
//! (IA5String), `description`, `displayName` (no index), `name` (a supertype),
//! `telephoneNumber` and `objectClass` (no approximate rule: equality), inside AND, OR and
//! NOT too. Every filter must give the same result code and the same DNs from all three.
//!
//! slapd with an `approx` index would differ in one case on purpose: an assertion word
//! whose code is empty (`(description~=9)` matches `3Com Systems` by filter evaluation);
//! slapd looks the empty code up in its index, which never holds it, and finds nothing.
//! oxldap's index does not narrow on such a word, so its answer does not depend on the
//! index (see `tests/approx_index.rs`).
//!
//! Skipped (with a message) when /usr/sbin/slapd is not installed.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLAPD: &str = "/usr/sbin/slapd";
/// How many fixture users the directory takes.
const USERS_FROM_FIXTURE: usize = 300;
/// How many of them the name filters are built from.
const SAMPLED_USERS: usize = 70;
/// Seed of the generator; `APPROX_VS_SLAPD_SEED=N` explores other filters.
const SEED: u64 = 7;
const PEOPLE: &str = "ou=People,dc=localdomain,dc=test";

/// Values that exercise folding, word splitting and the phonetic rules.
const EDGE_VALUES: &[&str] = &[
    "3Com Systems",
    "O'Brien & Sons",
    "a ø b",
    "Jean-Luc Picard",
    "J. R. R. Tolkien",
    "j.smith",
    "  spaced    out  words ",
    "Ørsted Ænergi",
    "Łukasz Żółć",
    "ﬁnance ﬂow",
    "Straße Weiß",
    "İstanbul Şişli",
    "Ｆｕｌｌｗｉｄｔｈ Ｎａｍｅ",
    "x",
    "Xerxes Axe Box",
    "Knight Gnome Pneumonia Wright Whale",
    "Thomas Schmidt Sciences Scythe",
    "Phillip Quincy Zoe",
    "Mc'Donald",
    "123 456",
    "R2-D2 C3PO",
    "___",
    "tab\there",
    "Zzz Zzz",
    "Supercalifragilisticexpialidociousnessabcdefgh",
    "Dodge Judge Edgy Budget",
    "Hugh Laughing Bough Night Dwight",
    "Cia Tia Sio Tion Sia Shia",
    "Chris Christmas Chemistry Ache Schism",
    "Aeon Aesop Kneel Gnu Wrap Xylophone",
    "Mb Lamb Bomb Bob Robert",
    "Agnes Signed Designed Gnedd",
    "Ghost Hough Eight",
    "Judge Gadget Digger Egg",
    "Whale What Why Yellow Ayer",
    "Ahh Oh Uh",
    "Café Crème Brûlée",
    "王 James",
    "Ñandú Niño",
    "Ǆemal Ǉubica",
    "Ⅻ Century",
    "AE Ae ae",
    "Cynthia Cecil Ocean",
];

/// Assertions beyond the names and edge values.
const EDGE_ASSERTIONS: &[&str] = &[
    "9",
    "ø",
    " ",
    "  smith  ",
    "a b",
    "j",
    "x",
    "zzz",
    "o",
    "3com",
    "9 systems",
    "tolkien",
    "j r r tolkien",
    "jean luc",
    "jeanluc",
    "picard jean",
    "strasse",
    "strase weis",
    "istanbul",
    "finance",
    "fullwidth",
    "lukasz",
    "orsted",
    "rsted",
    "nite",
    "night",
    "whale",
    "wale",
    "rort",
    "robert",
    "rupert",
    "sciences",
    "siences",
    "kwinsy",
    "zo",
    "axe",
    "aks",
    "sersees",
    "supercalifragilisticexpialidociousnessxyz",
    "supercalifragilisticexpialidocious",
    "a",
    "b",
    "ae",
    "e",
    "O'Brien",
    "brien",
    "&",
    "*",
    "(x)",
    "c3po",
    "r2",
    "cafe creme",
    "kafe",
    "nino",
    "nandu",
    "dzemal",
    "century",
    "xii century",
    "sinthia",
    "cecil",
    "oshun",
    "tab",
    "here",
    "tab here",
    "smyth jon",
];

/// SplitMix64: small, seedable, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// RFC 4515 §3 escaping of an assertion value.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// One person of the generated directory.
struct Person {
    uid: String,
    cn: Vec<String>,
    sn: String,
    given: String,
    mail: String,
    phone: Option<String>,
    description: Vec<String>,
    display: Option<String>,
}

/// The directory: fixture people, every [`EDGE_VALUES`] entry spread over extra `cn`
/// values, descriptions and display names, and one person per edge value whose `sn` it is.
fn people() -> Vec<Person> {
    let mut out = Vec::new();
    let fixture = fixture_entries();
    let users = fixture.iter().filter(|e| e.dn.starts_with("uid="));
    for (i, e) in users.take(USERS_FROM_FIXTURE).enumerate() {
        let first = |a: &str| e.get(a).first().map(|s| s.to_string());
        let edge = |k: usize| EDGE_VALUES[(i * 7 + k) % EDGE_VALUES.len()].to_string();
        let mut cn = vec![first("cn").unwrap()];
        if i % 5 == 0 {
            cn.push(edge(0));
        }
        let description = match i % 4 {
            0 => vec![],
            1 => vec![edge(1)],
            _ => vec![
                edge(2),
                format!("{} {}", first("givenName").unwrap(), edge(3)),
            ],
        };
        out.push(Person {
            uid: format!("p{i}"),
            cn,
            sn: first("sn").unwrap(),
            given: first("givenName").unwrap(),
            mail: first("mail").unwrap(),
            phone: first("telephoneNumber"),
            description,
            display: (i % 3 == 0).then(|| format!("{} {}", edge(4), first("sn").unwrap())),
        });
    }
    for (i, v) in EDGE_VALUES.iter().enumerate() {
        out.push(Person {
            uid: format!("edge{i}"),
            cn: vec![format!("Edge {i}")],
            sn: v.to_string(),
            given: "Edge".into(),
            mail: format!("edge{i}.{}@example.test", i % 3),
            phone: None,
            description: vec![v.to_string()],
            display: Some(v.to_string()),
        });
    }
    out
}

/// The directory as LDIF (every value base64-encoded, so spaces and tabs survive).
fn ldif(people: &[Person]) -> String {
    use base64::Engine;
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v.as_bytes());
    let mut s = String::new();
    s.push_str(
        "dn: dc=localdomain,dc=test\nobjectClass: top\nobjectClass: organization\n\
         objectClass: dcObject\no: localdomain.test\ndc: localdomain\n\n",
    );
    writeln!(
        s,
        "dn: {PEOPLE}\nobjectClass: top\nobjectClass: organizationalUnit\nou: People\n"
    )
    .unwrap();
    for p in people {
        writeln!(s, "dn: uid={},{PEOPLE}", p.uid).unwrap();
        s.push_str("objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n");
        s.push_str("objectClass: inetOrgPerson\n");
        writeln!(s, "uid: {}", p.uid).unwrap();
        for c in &p.cn {
            writeln!(s, "cn:: {}", b64(c)).unwrap();
        }
        writeln!(s, "sn:: {}", b64(&p.sn)).unwrap();
        writeln!(s, "givenName:: {}", b64(&p.given)).unwrap();
        writeln!(s, "mail: {}", p.mail).unwrap();
        if let Some(t) = &p.phone {
            writeln!(s, "telephoneNumber: {t}").unwrap();
        }
        for d in &p.description {
            writeln!(s, "description:: {}", b64(d)).unwrap();
        }
        if let Some(d) = &p.display {
            writeln!(s, "displayName:: {}", b64(d)).unwrap();
        }
        s.push('\n');
    }
    s
}

/// A misspelling of `word`, chosen by `k`: some the phonetic code forgives (vowel
/// changes, doubled letters, `ph` for `f`, `k` for `c`, accents), some it does not.
fn misspell(word: &str, k: usize) -> String {
    let lower = word.to_lowercase();
    match k % 12 {
        0 => lower.replacen('y', "i", 1).replacen('i', "y", 1),
        1 => lower.replacen('f', "ph", 1),
        2 => lower.replacen('c', "k", 1),
        3 => {
            // Double the first consonant after the first letter.
            let mut out = String::new();
            let mut done = false;
            for (i, c) in lower.chars().enumerate() {
                out.push(c);
                if !done && i > 0 && c.is_ascii_alphabetic() && !"aeiou".contains(c) {
                    out.push(c);
                    done = true;
                }
            }
            out
        }
        4 => {
            // Change an inner vowel.
            let mut chars: Vec<char> = lower.chars().collect();
            if let Some(p) = chars.iter().skip(1).position(|c| "aeiou".contains(*c)) {
                chars[p + 1] = if chars[p + 1] == 'a' { 'e' } else { 'a' };
            }
            chars.into_iter().collect()
        }
        5 => lower.replacen('e', "é", 1).replacen('a', "à", 1),
        6 => word.to_uppercase(),
        7 => lower.replacen('s', "z", 1),
        8 => lower.replacen("th", "t", 1).replacen('w', "v", 1),
        9 => lower.chars().skip(1).collect(),
        10 => format!("{lower}s"),
        _ => lower.replacen('t', "d", 1),
    }
}

/// The approximate filters of the comparison.
fn filters(people: &[Person], seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut out: Vec<String> = Vec::new();
    let approx = |a: &str, v: &str| format!("({a}~={})", escape(v));
    let fixture_people: Vec<&Person> = people.iter().filter(|p| p.uid.starts_with('p')).collect();
    for _ in 0..SAMPLED_USERS {
        let p = fixture_people[rng.below(fixture_people.len())];
        let cn = &p.cn[0];
        let words: Vec<&str> = cn.split(' ').collect();
        let k = rng.below(1000);
        out.push(approx("cn", cn));
        out.push(approx("sn", &misspell(&p.sn, k)));
        out.push(approx("givenName", &misspell(&p.given, k + 1)));
        let swapped: Vec<&str> = words.iter().rev().copied().collect();
        out.push(approx("cn", &swapped.join(" ")));
        let misspelt: Vec<String> = words.iter().map(|w| misspell(w, k + 2)).collect();
        out.push(approx("cn", &misspelt.join(" ")));
        out.push(approx(
            "cn",
            &format!("{} x {}", words[0], words[words.len() - 1]),
        ));
        out.push(approx("cn", &words.join("-")));
        out.push(approx("name", &misspell(&p.sn, k + 3)));
        out.push(approx("mail", &misspell(&p.given, k + 4)));
        out.push(approx("mail", &p.mail));
        if let Some(t) = &p.phone {
            out.push(approx("telephoneNumber", &t.replace(' ', "-")));
        }
        if let Some(d) = p.description.first() {
            let w: Vec<&str> = d.split(' ').collect();
            out.push(approx("description", w[rng.below(w.len())]));
        }
        if let Some(d) = &p.display {
            out.push(approx("displayName", &misspell(d, k + 5)));
        }
        match k % 3 {
            0 => out.push(format!(
                "(&(objectClass=inetOrgPerson)(sn~={})(givenName~={}))",
                escape(&misspell(&p.sn, k + 6)),
                escape(&p.given)
            )),
            1 => out.push(format!(
                "(|(sn~={})(description~={}))",
                escape(&misspell(&p.sn, k + 7)),
                escape(&misspell(&p.given, k + 8))
            )),
            _ => out.push(format!(
                "(&(uid=p*)(!(cn~={})))",
                escape(&misspell(words[0], k + 9))
            )),
        }
    }
    for v in EDGE_VALUES {
        for attr in ["sn", "description", "displayName", "cn"] {
            out.push(approx(attr, v));
        }
        let first = v.split(' ').find(|w| !w.is_empty()).unwrap_or(v);
        out.push(approx("description", &misspell(first, rng.below(1000))));
    }
    for a in EDGE_ASSERTIONS {
        for attr in ["sn", "description", "cn", "mail", "displayName"] {
            out.push(approx(attr, a));
        }
        out.push(format!("(!(description~={}))", escape(a)));
    }
    out.extend(
        [
            "(objectClass~=person)",
            "(objectClass~=persn)",
            "(objectClass~=inetorgperson)",
            "(telephoneNumber~=+40 21 261 1931)",
            "(noSuchAttr~=smith)",
            "(!(noSuchAttr~=smith))",
            "(uid~=edge1)",
            "(uid~=edj1)",
            "(sn~=)",
            "(!(sn~=))",
            "(mail~=)",
            "(mail~=ålice)",
            "(!(mail~=ålice))",
            // An empty Directory String assertion is invalid (Undefined, so its negation
            // matches nothing either; oxldap once answered False and the NOT matched all);
            // an empty IA5 String is valid and matches nothing; one that folds to nothing
            // is valid and matches nothing.
            "(!(mail~=))",
            "(!(sn~=ø))",
            "(!(sn~= ))",
            "(&(sn~=edge)(!(sn~=edge)))",
            "(|(cn~=edge 1)(cn~=edge 2)(cn~=eg 3))",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    out
}

/// A slapd started by `filters_vs_slapd/start-slapd.sh`; stopped on drop.
struct Slapd {
    url: String,
    pid: u32,
    _dir: tempfile::TempDir,
}

impl Slapd {
    fn start(ldif: &Path) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/filters_vs_slapd/start-slapd.sh");
        let out = Command::new("timeout")
            .args(["120", "bash"])
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(ldif)
            .env("START_TIMEOUT", "60")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let pid = std::fs::read_to_string(dir.path().join("slapd.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let slapd = pid.map(|pid| Slapd {
            url: format!("ldap://127.0.0.1:{port}/"),
            pid,
            _dir: dir,
        });
        assert!(
            out.status.success() && slapd.is_some(),
            "start-slapd.sh failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        slapd.unwrap()
    }

    fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/comm", self.pid))
            .is_ok_and(|c| c.trim() == "slapd")
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if !self.alive() {
            return;
        }
        let pid = self.pid.to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while self.alive() && start.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.alive() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

/// oxldap in memory with the reference configuration plus `extra` lines, loaded from
/// `ldif`. Keep the returned folder (it holds the configuration) as long as the server.
fn oxldap(ldif: &Path, extra: &str) -> (Server, tempfile::TempDir) {
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/oxldap-reference.conf"),
    )
    .unwrap();
    let confdir = tempfile::tempdir().unwrap();
    let conf = confdir.path().join("oxldap.conf");
    let text = reference.replace(
        "index entryUUID,entryCSN eq\n",
        &format!("index entryUUID,entryCSN eq\n{extra}"),
    );
    std::fs::write(&conf, text).unwrap();
    let server = Server::start(
        &[
            "-f",
            conf.to_str().unwrap(),
            "--memory",
            "--no-layout",
            "--ldif",
            ldif.to_str().unwrap(),
        ],
        None,
    );
    (server, confdir)
}

/// ldapsearch's exit code (the LDAP result code) and the DNs found, lower-cased.
fn search(url: &str, filter: &str) -> (i32, BTreeSet<String>) {
    let out = Command::new("timeout")
        .args([
            "60",
            "ldapsearch",
            "-x",
            "-H",
            url,
            "-D",
            ROOTDN,
            "-w",
            ROOTPW,
        ])
        .args([
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-o",
            "nettimeout=30",
            "-l",
            "30",
        ])
        .args(["-b", BASE, "-s", "sub", filter, "1.1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let dns = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .map(|d| d.to_lowercase().replace(", ", ","))
        .collect();
    (out.status.code().unwrap_or(-1), dns)
}

fn few(set: &BTreeSet<String>, other: &BTreeSet<String>) -> String {
    let only: Vec<&String> = set.difference(other).collect();
    let shown: Vec<&str> = only.iter().take(3).map(|s| s.as_str()).collect();
    if only.len() > 3 {
        format!("{shown:?} and {} more", only.len() - 3)
    } else {
        format!("{shown:?}")
    }
}

#[test]
fn approximate_filters_give_the_same_entries_as_slapd() {
    if !Path::new(SLAPD).exists() {
        eprintln!("skipped: {SLAPD} is not installed (scripts/test.sh installs it)");
        return;
    }
    let seed = std::env::var("APPROX_VS_SLAPD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let people = people();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("approx.ldif");
    std::fs::write(&file, ldif(&people)).unwrap();
    let filters = filters(&people, seed);

    let slapd = Slapd::start(&file);
    let (indexed, _c1) = oxldap(&file, "index cn,sn,givenName,mail,description,uid approx\n");
    let (plain, _c2) = oxldap(&file, "");
    let all = search(&slapd.url, "(objectClass=*)");
    assert_eq!(
        all.1.len(),
        people.len() + 2,
        "slapd did not load the directory"
    );
    for s in [&indexed, &plain] {
        assert_eq!(
            search(&s.url, "(objectClass=*)"),
            all,
            "the servers hold different entries"
        );
    }

    let mut differences = Vec::new();
    let mut found = 0;
    for f in &filters {
        let sl = search(&slapd.url, f);
        found += usize::from(!sl.1.is_empty() && sl.1.len() < people.len());
        for (name, server) in [("indexed", &indexed), ("unindexed", &plain)] {
            let ox = search(&server.url, f);
            if ox == sl {
                continue;
            }
            differences.push(format!(
                "{f} ({name} oxldap)\n    oxldap: {} entries (code {}), slapd: {} entries \
                 (code {})\n    only from oxldap: {}\n    only from slapd: {}",
                ox.1.len(),
                ox.0,
                sl.1.len(),
                sl.0,
                few(&ox.1, &sl.1),
                few(&sl.1, &ox.1),
            ));
        }
    }
    eprintln!(
        "{} approximate filters (seed {seed}), {found} selecting some but not all entries on \
         slapd, {} differences",
        filters.len(),
        differences.len()
    );
    assert!(
        found * 2 > filters.len(),
        "too few filters select anything: the comparison would prove little"
    );
    assert!(
        differences.is_empty(),
        "{} answers differ from slapd's:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
