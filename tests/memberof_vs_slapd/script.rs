//! The scripted operations sent to both servers, one LDAP operation per step (LDIF for
//! `ldapmodify`, whose exit status is the operation's result code).

pub const O: &str = "o=localdomain,dc=localdomain,dc=test";
pub const U: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
pub const G: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

/// One operation: a short label (used in reports and in the deviation table) and its LDIF.
pub struct Step {
    pub label: &'static str,
    pub ldif: String,
}

fn person(dn: &str, uid: &str, extra: &str) -> String {
    format!("dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n{extra}")
}

fn group(dn: &str, cn: &str, members: &[&str]) -> String {
    let mut s = format!("dn: {dn}\nchangetype: add\nobjectClass: groupOfNames\ncn: {cn}\n");
    for m in members {
        s.push_str(&format!("member: {m}\n"));
    }
    s
}

fn modify(dn: &str, op: &str, attr: &str, values: &[&str]) -> String {
    let mut s = format!("dn: {dn}\nchangetype: modify\n{op}: {attr}\n");
    for v in values {
        s.push_str(&format!("{attr}: {v}\n"));
    }
    s
}

fn delete(dn: &str) -> String {
    format!("dn: {dn}\nchangetype: delete\n")
}

fn modrdn(dn: &str, rdn: &str, sup: Option<&str>) -> String {
    let mut s = format!("dn: {dn}\nchangetype: modrdn\nnewrdn: {rdn}\ndeleteoldrdn: 1\n");
    if let Some(sup) = sup {
        s.push_str(&format!("newsuperior: {sup}\n"));
    }
    s
}

fn u(uid: &str) -> String {
    format!("uid={uid},{U}")
}

fn g(cn: &str) -> String {
    format!("cn={cn},{G}")
}

/// The sequence (the same for every configuration).
pub fn steps() -> Vec<Step> {
    let teams = format!("ou=Teams,{O}");
    let dept = format!("ou=Dept,{O}");
    let fay = format!("uid=fay,{dept}");
    let dgroup = format!("cn=dgroup,{dept}");
    let crew_t = format!("cn=crew,{teams}");
    let rob_t = format!("uid=robert,{teams}");
    let s = |label: &'static str, ldif: String| Step { label, ldif };
    vec![
        s("add user ana", person(&u("ana"), "ana", "")),
        s("add user bob", person(&u("bob"), "bob", "")),
        s("add user cyd", person(&u("cyd"), "cyd", "")),
        s(
            "add user dan with manager ana",
            person(&u("dan"), "dan", &format!("manager: {}\n", u("ana"))),
        ),
        s(
            "add group staff (existing members)",
            group(&g("staff"), "staff", &[&u("ana"), &u("bob")]),
        ),
        s(
            "add group mixed (one dangling member)",
            group(&g("mixed"), "mixed", &[&u("cyd"), &u("ghost")]),
        ),
        s(
            "staff: add member cyd",
            modify(&g("staff"), "add", "member", &[&u("cyd")]),
        ),
        s(
            "staff: delete member bob",
            modify(&g("staff"), "delete", "member", &[&u("bob")]),
        ),
        s(
            "staff: replace member ana dan",
            modify(&g("staff"), "replace", "member", &[&u("ana"), &u("dan")]),
        ),
        s(
            "staff: add dangling member ghost2",
            modify(&g("staff"), "add", "member", &[&u("ghost2")]),
        ),
        s(
            "staff: add member bob (other case and spacing)",
            modify(
                &g("staff"),
                "add",
                "member",
                &["UID=Bob, OU=users,o=LOCALDOMAIN,dc=localdomain,dc=test"],
            ),
        ),
        s(
            "staff: delete member bob (other case)",
            modify(
                &g("staff"),
                "delete",
                "member",
                &["uid=BOB,ou=Users,o=localdomain,DC=localdomain,dc=test"],
            ),
        ),
        s(
            "add group all (nested: staff, bob)",
            group(&g("all"), "all", &[&g("staff"), &u("bob")]),
        ),
        s(
            "add group loop (cyd)",
            group(&g("loop"), "loop", &[&u("cyd")]),
        ),
        s(
            "loop: add itself as member",
            modify(&g("loop"), "add", "member", &[&g("loop")]),
        ),
        s(
            "add group selfish (only itself)",
            group(&g("selfish"), "selfish", &[&g("selfish")]),
        ),
        s("delete group selfish", delete(&g("selfish"))),
        s(
            "client: ana add memberOf",
            modify(&u("ana"), "add", "memberOf", &[&g("all")]),
        ),
        s(
            "client: add user eve with memberOf",
            person(&u("eve"), "eve", &format!("memberOf: {}\n", g("staff"))),
        ),
        s(
            "client: ana replace memberOf",
            modify(&u("ana"), "replace", "memberOf", &[&g("mixed")]),
        ),
        s(
            "client: staff delete memberOf",
            modify(&g("staff"), "delete", "memberOf", &[]),
        ),
        s(
            "rename group staff to crew",
            modrdn(&g("staff"), "cn=crew", None),
        ),
        s(
            "add ou Teams",
            format!("dn: {teams}\nchangetype: add\nobjectClass: organizationalUnit\nou: Teams\n"),
        ),
        s(
            "move group crew under Teams",
            modrdn(&g("crew"), "cn=crew", Some(&teams)),
        ),
        s(
            "rename member bob to robert",
            modrdn(&u("bob"), "uid=robert", None),
        ),
        s(
            "dan: replace manager robert",
            modify(&u("dan"), "replace", "manager", &[&u("robert")]),
        ),
        s(
            "move member robert under Teams",
            modrdn(&u("robert"), "uid=robert", Some(&teams)),
        ),
        s(
            "rename and move member robert to rob under Users",
            modrdn(&rob_t, "uid=rob", Some(U)),
        ),
        s("delete member ana", delete(&u("ana"))),
        s("add user zed", person(&u("zed"), "zed", "")),
        s(
            "add group solo (only member zed)",
            group(&g("solo"), "solo", &[&u("zed")]),
        ),
        s("delete zed (last member of solo)", delete(&u("zed"))),
        s("delete group solo", delete(&g("solo"))),
        s(
            "loop: delete member cyd",
            modify(&g("loop"), "delete", "member", &[&u("cyd")]),
        ),
        s(
            "loop: delete the last member (itself)",
            modify(&g("loop"), "delete", "member", &[&g("loop")]),
        ),
        s("delete group loop (self-member)", delete(&g("loop"))),
        s("delete group all (nested)", delete(&g("all"))),
        s(
            "add user ghost (named by mixed before it existed)",
            person(&u("ghost"), "ghost", ""),
        ),
        s(
            "mixed: delete member ghost",
            modify(&g("mixed"), "delete", "member", &[&u("ghost")]),
        ),
        s(
            "mixed: add member ghost",
            modify(&g("mixed"), "add", "member", &[&u("ghost")]),
        ),
        s(
            "add group fwd (member: a group not yet added)",
            group(&g("fwd"), "fwd", &[&g("later")]),
        ),
        s(
            "add group later (cyd)",
            group(&g("later"), "later", &[&u("cyd")]),
        ),
        s(
            "fwd: replace member later cyd",
            modify(&g("fwd"), "replace", "member", &[&g("later"), &u("cyd")]),
        ),
        s("delete group later (member of fwd)", delete(&g("later"))),
        s(
            "rename cyd to cy (member of several groups)",
            modrdn(&u("cyd"), "uid=cy", None),
        ),
        s("delete group crew", delete(&crew_t)),
        s(
            "mixed: replace member with dangling ghost3 only",
            modify(&g("mixed"), "replace", "member", &[&u("ghost3")]),
        ),
        s(
            "mixed: delete attribute member",
            modify(&g("mixed"), "delete", "member", &[]),
        ),
        s("delete user rob (manager of dan)", delete(&u("rob"))),
        s("add user hal", person(&u("hal"), "hal", "")),
        s(
            "add ou Dept",
            format!("dn: {dept}\nchangetype: add\nobjectClass: organizationalUnit\nou: Dept\n"),
        ),
        s("add user fay in Dept", person(&fay, "fay", "")),
        s(
            "add group dgroup in Dept (inner and outer members)",
            group(&dgroup, "dgroup", &[&fay, &u("hal")]),
        ),
        s(
            "add group outer (members fay and dgroup)",
            group(&g("outer"), "outer", &[&fay, &dgroup]),
        ),
        s(
            "dan: replace manager fay",
            modify(&u("dan"), "replace", "manager", &[&fay]),
        ),
        s(
            "move subtree Dept under Teams",
            modrdn(&dept, "ou=Dept", Some(&teams)),
        ),
        s(
            "rename subtree Dept to Division",
            modrdn(&format!("ou=Dept,{teams}"), "ou=Division", None),
        ),
    ]
}
