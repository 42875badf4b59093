//! Browser sessions (cookie, CSRF, expiry), login throttling and case-insensitive emails.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Reply, T0, TestApp, spawn, spawn_with};

both_backends!(
    a_browser_session_lives_in_an_http_only_strict_cookie,
    cookie_writes_need_the_csrf_token_of_their_session,
    an_expired_browser_session_is_refused,
    an_account_is_throttled_after_five_wrong_passwords,
    an_address_is_throttled_after_failing_on_many_accounts,
    emails_name_one_account_whatever_their_case,
    migration_lowercases_emails_and_keeps_accounts_that_shared_an_address,
    the_admin_ui_is_served_with_a_strict_policy_and_long_cached_assets,
);

/// Logs in through `POST /auth/session`; returns the reply and the cookie header to send.
async fn browser_login(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (Reply, String) {
    let reply = app
        .request(
            Method::POST,
            "/api/v1/auth/session",
            None,
            headers,
            Some(&json!({"email": email, "password": password})),
        )
        .await;
    let cookie = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    (reply, pair)
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    extra: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut headers = vec![("cookie", cookie)];
    headers.extend_from_slice(extra);
    app.request(method, path, None, &headers, body.as_ref())
        .await
}

async fn a_browser_session_lives_in_an_http_only_strict_cookie(backend: Backend) {
    let app = spawn(backend).await;
    let (reply, cookie) = browser_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD, &[]).await;
    reply.expect(200);
    let set_cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.starts_with("vane_session=vane_session_"),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: no Secure");
    assert!(
        reply.body.get("token").is_none(),
        "the token is not readable by scripts"
    );
    assert_eq!(reply.body["user"]["email"], ADMIN_EMAIL);
    let csrf = reply.body["csrf_token"].as_str().unwrap().to_owned();

    let me = with_cookie(
        &app,
        Method::GET,
        "/api/v1/auth/session",
        &cookie,
        &[],
        None,
    )
    .await;
    me.expect(200);
    assert_eq!(me.body["user"]["role"], "admin");
    assert_eq!(me.body["csrf_token"], csrf.as_str());
    with_cookie(&app, Method::GET, "/api/v1/flags", &cookie, &[], None)
        .await
        .expect(200);

    // Behind an HTTPS proxy the cookie is Secure.
    let (secure, _) = browser_login(
        &app,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(
        secure.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    // Logout clears the cookie and ends the session.
    let out = with_cookie(
        &app,
        Method::DELETE,
        "/api/v1/auth/session",
        &cookie,
        &[("x-csrf-token", &csrf)],
        None,
    )
    .await;
    out.expect(204);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    with_cookie(&app, Method::GET, "/api/v1/flags", &cookie, &[], None)
        .await
        .expect(401);
}

async fn cookie_writes_need_the_csrf_token_of_their_session(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let (reply, cookie) = browser_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD, &[]).await;
    let csrf = reply.body["csrf_token"].as_str().unwrap().to_owned();
    let flag = json!({"key": "f1", "type": "bool", "variations": [false, true]});

    let forged = with_cookie(
        &app,
        Method::POST,
        "/api/v1/flags",
        &cookie,
        &[],
        Some(flag.clone()),
    )
    .await;
    forged.expect(403);
    assert!(
        forged.body["detail"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    let (other, _) = browser_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD, &[]).await;
    let other_csrf = other.body["csrf_token"].as_str().unwrap();
    assert_ne!(other_csrf, csrf, "each session has its own token");
    with_cookie(
        &app,
        Method::POST,
        "/api/v1/flags",
        &cookie,
        &[("x-csrf-token", other_csrf)],
        Some(flag.clone()),
    )
    .await
    .expect(403);
    app.get("/api/v1/flags/f1", &app.admin).await.expect(404);

    with_cookie(
        &app,
        Method::POST,
        "/api/v1/flags",
        &cookie,
        &[("x-csrf-token", &csrf)],
        Some(flag),
    )
    .await
    .expect(201);
    // Bearer tokens need no CSRF token (a browser never sends them by itself).
    app.post(
        "/api/v1/flags",
        &app.admin,
        json!({"key": "f2", "type": "bool", "variations": [false, true]}),
    )
    .await
    .expect(201);
    let audit = app.audit("entity_key=f1").await;
    assert_eq!(audit[0]["actor"], format!("user:{ADMIN_EMAIL}"));
}

async fn an_expired_browser_session_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (_, cookie) = browser_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD, &[]).await;
    app.set_clock(T0 + Duration::hours(11));
    with_cookie(
        &app,
        Method::GET,
        "/api/v1/auth/session",
        &cookie,
        &[],
        None,
    )
    .await
    .expect(200);
    app.set_clock(T0 + Duration::hours(12) + Duration::seconds(1));
    with_cookie(
        &app,
        Method::GET,
        "/api/v1/auth/session",
        &cookie,
        &[],
        None,
    )
    .await
    .expect(401);
}

async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        &[],
        Some(&json!({"email": email, "password": password})),
    )
    .await
}

async fn an_account_is_throttled_after_five_wrong_passwords(backend: Backend) {
    let app = spawn(backend).await;
    for _ in 0..5 {
        login(&app, ADMIN_EMAIL, "not the password")
            .await
            .expect(401);
    }
    // Now even the right password is refused, by both login routes, until the window passes.
    let refused = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    refused.expect(429);
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let (browser, _) = browser_login(&app, "ADMIN@example.com", ADMIN_PASSWORD, &[]).await;
    browser.expect(429);

    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("vane_core_login_failures_total{outcome=\"wrong_credentials\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("vane_core_login_failures_total{outcome=\"throttled\"} 2"),
        "{text}"
    );

    app.set_clock(T0 + Duration::minutes(15));
    login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect(200);
}

async fn an_address_is_throttled_after_failing_on_many_accounts(backend: Backend) {
    let app = spawn(backend).await;
    for i in 0..20 {
        login(&app, &format!("guess{i}@example.com"), "whatever it is")
            .await
            .expect(401);
    }
    // A new account from the same address (127.0.0.1) is refused too.
    login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.expect(429);
}

async fn emails_name_one_account_whatever_their_case(backend: Backend) {
    let app = spawn(backend).await;
    let created = app
        .post(
            "/api/v1/users",
            &app.admin,
            json!({"email": "Ann.Lee@Example.com", "name": "Ann", "role": "editor", "password": "a long enough password"}),
        )
        .await;
    created.expect(201);
    assert_eq!(created.body["email"], "ann.lee@example.com");
    let again = app
        .post(
            "/api/v1/users",
            &app.admin,
            json!({"email": "ann.lee@EXAMPLE.COM", "name": "Ann 2", "role": "viewer", "password": "a long enough password"}),
        )
        .await;
    again.expect(409);
    let token = login(&app, "ANN.LEE@example.com", "a long enough password").await;
    token.expect(200);
    assert_eq!(token.body["user"]["email"], "ann.lee@example.com");
}

async fn migration_lowercases_emails_and_keeps_accounts_that_shared_an_address(backend: Backend) {
    use sqlx::Row;
    let (url, _dir) = crate::helpers::fresh_database(backend.clone()).await;
    let db = vane_core::db::Db::connect(&url).await.unwrap();
    let mut before = match db.backend {
        vane_core::db::Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        vane_core::db::Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&db.pool).await.unwrap();
    for (id, email, created) in [
        ("u1", "Bob@Example.com", 1),
        ("u2", "Ann@Example.com", 2),
        ("u3", "ann@example.com", 3),
    ] {
        sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, version, created_at, updated_at) \
             VALUES ($1, $2, '', 'viewer', 'x', 1, $3, $3)",
        )
        .bind(id)
        .bind(email)
        .bind(created as i64)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    db.migrate().await.unwrap();
    let rows = sqlx::query("SELECT id, email, email_key FROM users ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let got: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get("id"), r.get("email"), r.get("email_key")))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "u1".into(),
                "bob@example.com".into(),
                Some("bob@example.com".into())
            ),
            (
                "u2".into(),
                "Ann@Example.com".into(),
                Some("ann@example.com".into())
            ),
            ("u3".into(), "ann@example.com".into(), None),
        ]
    );
    let mut conn = db.pool.acquire().await.unwrap();
    for (typed, id) in [
        ("BOB@example.com", "u1"),
        ("ANN@example.com", "u2"),
        ("ann@example.com", "u3"),
    ] {
        let user = vane_core::store::users::by_email(&mut conn, typed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.id, id, "{typed}");
    }
}

async fn the_admin_ui_is_served_with_a_strict_policy_and_long_cached_assets(backend: Backend) {
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>Vane admin</title>",
    )
    .unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(ui.path().join("assets/index-3f9a.js"), "console.log(1)").unwrap();
    let dir = ui.path().to_path_buf();
    let app = spawn_with(backend, move |config| config.admin_dir = Some(dir)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| client.get(format!("{}{path}", app.address)).send();

    let root = get("/").await.unwrap();
    assert_eq!(root.status(), 308);
    assert_eq!(root.headers()["location"], "/admin/");

    for path in ["/admin/", "/admin/experiments/checkout-cta/results"] {
        let page = get(path).await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.headers()["cache-control"], "no-cache");
        assert!(page.text().await.unwrap().contains("Vane admin"));
    }
    let asset = get("/admin/assets/index-3f9a.js").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(get("/admin/assets/gone-1.js").await.unwrap().status(), 404);
    assert_eq!(get("/admin/../core.sqlite").await.unwrap().status(), 404);

    // The API is untouched: unknown API paths are still problem+json 404s.
    let api = get("/api/v1/nothing-here").await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
}
