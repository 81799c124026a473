//! Tenant isolation: for every endpoint, a user of account A can neither read
//! nor change anything of account B, read-only roles change nothing, and
//! site-scoped tokens stay within their sites. On SQLite and PostgreSQL.

mod support;

use serde_json::{Value, json};
use support::Rampart;
use support::api::Api;
use support::backends::{Backend, store_table};

struct Tenant {
    account: String,
    site: String,
    list: String,
    owner: Api,
    owner_id: String,
    owner_token_id: String,
    member: Api,
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// An account with one site, an owner and a member, each with a token.
fn tenant(admin: &Api, name: &str) -> Tenant {
    let account = id(&admin
        .post("/api/v1/accounts", &json!({ "name": name }))
        .expect(201));
    let site = id(&admin
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": format!("{name}-site"), "hosts": [format!("{name}.test")], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let list = id(&admin
        .post(
            "/api/v1/lists",
            &json!({ "name": "office", "account_id": account, "items": ["192.0.2.1"] }),
        )
        .expect(201));
    let mut people = Vec::new();
    for role in ["account_owner", "account_member"] {
        let user = id(&admin
            .post(
                "/api/v1/users",
                &json!({ "email": format!("{role}@{name}.test"), "name": role, "role": role, "account_id": account }),
            )
            .expect(201));
        let token = admin
            .post("/api/v1/tokens", &json!({ "name": "t", "user_id": user }))
            .expect(201);
        people.push((
            user,
            admin.with_token(token["secret"].as_str().unwrap_or_default()),
            id(&token["token"]),
        ));
    }
    let (_, member, _) = people.pop().unwrap_or_else(|| unreachable!());
    let (owner_id, owner, owner_token_id) = people.pop().unwrap_or_else(|| unreachable!());
    Tenant {
        account,
        site,
        list,
        owner,
        owner_id,
        owner_token_id,
        member,
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| items.iter().map(id).collect())
        .unwrap_or_default()
}

/// Every request a caller could make against `b`'s objects.
fn requests_against(b: &Tenant) -> Vec<(&'static str, String, Option<Value>)> {
    let site_body =
        json!({ "name": "stolen", "hosts": ["stolen.test"], "origins": ["http://127.0.0.1:1"] });
    vec![
        ("GET", format!("/api/v1/sites/{}", b.site), None),
        (
            "PUT",
            format!("/api/v1/sites/{}", b.site),
            Some(site_body.clone()),
        ),
        (
            "PATCH",
            format!("/api/v1/sites/{}", b.site),
            Some(json!({ "under_attack": true })),
        ),
        ("DELETE", format!("/api/v1/sites/{}", b.site), None),
        (
            "POST",
            format!("/api/v1/sites?account_id={}", b.account),
            Some(site_body),
        ),
        (
            "GET",
            format!("/api/v1/sites?account_id={}", b.account),
            None,
        ),
        ("GET", format!("/api/v1/accounts/{}", b.account), None),
        (
            "PATCH",
            format!("/api/v1/accounts/{}", b.account),
            Some(json!({ "name": "mine" })),
        ),
        ("DELETE", format!("/api/v1/accounts/{}", b.account), None),
        ("GET", format!("/api/v1/users/{}", b.owner_id), None),
        (
            "PATCH",
            format!("/api/v1/users/{}", b.owner_id),
            Some(json!({ "name": "x" })),
        ),
        ("DELETE", format!("/api/v1/users/{}", b.owner_id), None),
        (
            "POST",
            "/api/v1/users".to_owned(),
            Some(
                json!({ "email": "intruder@x.test", "name": "i", "role": "account_owner", "account_id": b.account }),
            ),
        ),
        (
            "POST",
            "/api/v1/tokens".to_owned(),
            Some(json!({ "name": "x", "user_id": b.owner_id })),
        ),
        (
            "DELETE",
            format!("/api/v1/tokens/{}", b.owner_token_id),
            None,
        ),
        ("GET", format!("/api/v1/lists/{}", b.list), None),
        ("GET", format!("/api/v1/lists/{}/items", b.list), None),
        (
            "GET",
            format!("/api/v1/lists?account_id={}", b.account),
            None,
        ),
        (
            "PATCH",
            format!("/api/v1/lists/{}", b.list),
            Some(json!({ "name": "mine" })),
        ),
        ("DELETE", format!("/api/v1/lists/{}", b.list), None),
        (
            "PUT",
            format!("/api/v1/lists/{}/items", b.list),
            Some(json!("10.0.0.1")),
        ),
        (
            "POST",
            format!("/api/v1/lists/{}/items", b.list),
            Some(json!("10.0.0.1")),
        ),
        (
            "POST",
            "/api/v1/lists".to_owned(),
            Some(json!({ "name": "stolen", "account_id": b.account })),
        ),
        ("GET", format!("/api/v1/sites/{}/rules", b.site), None),
        (
            "PUT",
            format!("/api/v1/sites/{}/rules", b.site),
            Some(json!([{ "id": "x", "expression": "true", "action": "block" }])),
        ),
        ("GET", format!("/api/v1/sites/{}/rate_limits", b.site), None),
        (
            "PUT",
            format!("/api/v1/sites/{}/rate_limits", b.site),
            Some(json!([])),
        ),
    ]
}

async fn accounts_cannot_reach_each_other(backend: Backend) {
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let admin = rampart.admin_api();
    let a = tenant(&admin, "alpha");
    let b = tenant(&admin, "beta");

    for caller in [&a.owner, &a.member] {
        for (method, path, body) in requests_against(&b) {
            let reply = caller.call(method, &path, body.as_ref());
            assert!(
                reply.status == 404 || reply.status == 403,
                "{method} {path} answered {}: {}",
                reply.status,
                reply.text
            );
            assert!(
                !reply.text.contains("beta-site") && !reply.text.contains("beta.test"),
                "{method} {path} leaked: {}",
                reply.text
            );
        }
        // Lists show only their own account.
        assert_eq!(
            ids(&caller.get("/api/v1/sites").expect(200)),
            vec![a.site.clone()]
        );
        assert_eq!(
            ids(&caller.get("/api/v1/accounts").expect(200)),
            vec![a.account.clone()]
        );
        let users = ids(&caller.get("/api/v1/users").expect(200));
        assert!(
            users.contains(&a.owner_id) && !users.contains(&b.owner_id),
            "{users:?}"
        );
        let tokens = caller.get("/api/v1/tokens").expect(200);
        assert!(!ids(&tokens).contains(&b.owner_token_id));
        let audit = caller
            .get(&format!("/api/v1/audit?account_id={}", b.account))
            .expect(200);
        assert!(
            audit
                .as_array()
                .is_some_and(|e| e.iter().all(|e| e["account_id"] == a.account.as_str())),
            "{audit}"
        );
    }

    // B is untouched after all of that.
    let site = admin.get(&format!("/api/v1/sites/{}", b.site)).expect(200);
    assert_eq!(site["name"], "beta-site");
    assert!(!site["spec"]["under_attack"].as_bool().unwrap_or(false));
    assert!(site["spec"].get("rules").is_none());
    let list = admin.get(&format!("/api/v1/lists/{}", b.list)).expect(200);
    assert_eq!(
        (&list["name"], &list["entry_count"]),
        (&json!("office"), &json!(1))
    );
    assert_eq!(
        admin
            .get(&format!("/api/v1/accounts/{}", b.account))
            .expect(200)["name"],
        "beta"
    );
    b.owner.get("/api/v1/me").expect(200);
}

async fn read_only_roles_change_nothing(backend: Backend) {
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let admin = rampart.admin_api();
    let a = tenant(&admin, "alpha");

    // The member reads its account...
    a.member
        .get(&format!("/api/v1/sites/{}", a.site))
        .expect(200);
    // ...and every write is refused.
    for (method, path, body) in requests_against(&a) {
        if method == "GET" {
            continue;
        }
        let reply = a.member.call(method, &path, body.as_ref());
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text);
    }
    // The owner may do what the member may not.
    a.owner
        .patch(
            &format!("/api/v1/sites/{}", a.site),
            &json!({ "under_attack": true }),
        )
        .expect(200);
    // An owner cannot mint operator roles.
    let escalate = a.owner.post(
        "/api/v1/users",
        &json!({ "email": "root@alpha.test", "name": "r", "role": "operator_admin" }),
    );
    assert_eq!(escalate.status, 403, "{}", escalate.text);
}

async fn site_scoped_tokens_stay_in_their_sites(backend: Backend) {
    let rampart = Rampart::builder()
        .tables(&store_table(backend).await)
        .start();
    let admin = rampart.admin_api();
    let a = tenant(&admin, "alpha");
    let second = id(&a
        .owner
        .post(
            "/api/v1/sites",
            &json!({ "name": "alpha-two", "hosts": ["two.alpha.test"], "origins": ["http://127.0.0.1:1"] }),
        )
        .expect(201));
    let scoped = a
        .owner
        .post(
            "/api/v1/tokens",
            &json!({ "name": "deploy", "sites": [a.site] }),
        )
        .expect(201);
    let scoped = a
        .owner
        .with_token(scoped["secret"].as_str().unwrap_or_default());

    assert_eq!(
        ids(&scoped.get("/api/v1/sites").expect(200)),
        vec![a.site.clone()]
    );
    scoped
        .patch(
            &format!("/api/v1/sites/{}", a.site),
            &json!({ "https_redirect": true }),
        )
        .expect(200);
    assert_eq!(scoped.get(&format!("/api/v1/sites/{second}")).status, 404);
    assert_eq!(
        scoped
            .patch(
                &format!("/api/v1/sites/{second}"),
                &json!({ "https_redirect": true })
            )
            .status,
        404
    );
    let create = scoped.post(
        "/api/v1/sites",
        &json!({ "name": "alpha-three", "hosts": ["three.alpha.test"], "origins": ["http://127.0.0.1:1"] }),
    );
    assert_eq!(create.status, 403, "{}", create.text);
    assert_eq!(scoped.get("/api/v1/users").status, 403);
    assert_eq!(
        scoped
            .post("/api/v1/tokens", &json!({ "name": "more" }))
            .status,
        403
    );
}

on_both_backends!(
    accounts_cannot_reach_each_other,
    read_only_roles_change_nothing,
    site_scoped_tokens_stay_in_their_sites,
);
