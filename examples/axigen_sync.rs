//! The Axigen connector's view of oxldap, in process: provision accounts and groups the
//! way Axigen's "OpenLDAP Integration" expects them, read memberOf back, check that
//! entryUUID survives a rename, and that a deleted account leaves its groups.
//!
//! Run with `cargo run --example axigen_sync`. `tests/embedded.rs` runs the same `run`.
//!
//! Not here yet: polling changes with a syncrepl cookie (RFC 4533), as Axigen's
//! synchronisation does, waits for the syncrepl issue.
#![allow(dead_code)]

use oxldap::{mods, Scope, Server};
use std::error::Error;

const USERS: &str = "ou=Users,o=localdomain,dc=localdomain,dc=test";
const GROUPS: &str = "ou=Groups,o=localdomain,dc=localdomain,dc=test";

/// What the scenario observed, for the caller to print or check.
#[derive(Debug)]
pub struct Report {
    /// ana's memberOf values after provisioning.
    pub ana_groups: Vec<String>,
    /// ana's entryUUID before and after the rename.
    pub uuid_before: String,
    /// ana's entryUUID after the rename to uid=ana.pop.
    pub uuid_after: String,
    /// The members of cn=sales after bob was deleted.
    pub sales_members_after_delete: Vec<String>,
}

/// `LdapError` has no `std::error::Error` impl yet: describe it as a string.
fn ldap(e: oxldap::LdapError) -> Box<dyn Error> {
    format!("{} {}: {}", e.code, e.matched, e.message).into()
}

fn account(uid: &str, name: &str, password: &str) -> Result<String, Box<dyn Error>> {
    // Axigen stores hashed passwords; {SSHA} is what slapd would produce.
    let hashed = oxldap_server::password::hash("{SSHA}", password.as_bytes())?;
    let (given, sn) = name.split_once(' ').unwrap_or((name, name));
    Ok(format!(
        "dn: uid={uid},{USERS}\n\
         objectClass: inetOrgPerson\n\
         objectClass: inetLocalMailRecipient\n\
         uid: {uid}\n\
         cn: {name}\n\
         givenName: {given}\n\
         sn: {sn}\n\
         mail: {uid}@localdomain.test\n\
         mailHost: mx.localdomain.test\n\
         userPassword: {hashed}\n"
    ))
}

fn group(cn: &str, members: &[&str]) -> String {
    let mut g = format!("dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n");
    for m in members {
        g.push_str(&format!("member: uid={m},{USERS}\n"));
    }
    g
}

fn values(server: &Server, dn: &str, attr: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let entry = server
        .get(dn)
        .map_err(ldap)?
        .ok_or_else(|| format!("{dn} is missing"))?;
    let mut v: Vec<String> = entry
        .values(attr)
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    v.sort();
    Ok(v)
}

/// Runs the scenario against `server` (the default configuration and layout).
pub fn run(server: &Server) -> Result<Report, Box<dyn Error>> {
    // 1. Provision accounts and groups as the Axigen side would (as the rootdn).
    for (uid, name) in [
        ("ana", "Ana Pop"),
        ("bob", "Bob Ionescu"),
        ("carol", "Carol Dan"),
    ] {
        server
            .add(account(uid, name, &format!("pw-{uid}"))?.as_str())
            .map_err(ldap)?;
    }
    server
        .add(group("sales", &["ana", "bob"]).as_str())
        .map_err(ldap)?;
    server
        .add(group("staff", &["ana", "bob", "carol"]).as_str())
        .map_err(ldap)?;

    // 2. Axigen looks accounts up by mail and reads the groups from memberOf.
    let ana = format!("uid=ana,{USERS}");
    let found = server
        .search(
            USERS,
            Scope::One,
            "(&(objectClass=inetLocalMailRecipient)(mail=ana@localdomain.test))",
            &["mailHost", "memberOf"],
        )
        .map_err(ldap)?;
    if found.len() != 1 {
        return Err(format!("lookup by mail found {} entries", found.len()).into());
    }
    let ana_groups = values(server, &ana, "memberOf")?;

    // 3. entryUUID is the stable account id: it must survive a rename.
    let uuid_before = values(server, &ana, "entryUUID")?.concat();
    server
        .modify_dn(&ana, "uid=ana.pop", true, None)
        .map_err(ldap)?;
    server
        .modify(
            &format!("uid=ana.pop,{USERS}"),
            [mods::replace("mail", ["ana.pop@localdomain.test"])],
        )
        .map_err(ldap)?;
    let uuid_after = values(server, &format!("uid=ana.pop,{USERS}"), "entryUUID")?.concat();

    // 4. A deleted account leaves its groups (memberof-refint).
    server.delete(&format!("uid=bob,{USERS}")).map_err(ldap)?;
    let sales_members_after_delete = values(server, &format!("cn=sales,{GROUPS}"), "member")?;

    Ok(Report {
        ana_groups,
        uuid_before,
        uuid_after,
        sales_members_after_delete,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let server = Server::builder().start_blocking()?;
    println!("oxldap listening on {}", server.url());
    let report = run(&server)?;
    println!("ana is member of: {:?}", report.ana_groups);
    println!(
        "entryUUID before/after rename: {} / {} ({})",
        report.uuid_before,
        report.uuid_after,
        if report.uuid_before == report.uuid_after {
            "stable"
        } else {
            "CHANGED"
        }
    );
    println!(
        "cn=sales members after deleting bob: {:?}",
        report.sales_members_after_delete
    );
    server.shutdown()?;
    Ok(())
}
