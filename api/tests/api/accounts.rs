//! Sign-up, login, sessions and user management.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TEST_JWT_SECRET, TestApp, backend_tests, problem};

backend_tests!(
    signup_creates_a_company_whose_owner_is_signed_in,
    one_email_cannot_sign_up_twice_whatever_its_case,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    repeated_login_failures_are_throttled,
    refresh_rotates_the_refresh_token,
    a_reused_refresh_token_revokes_the_whole_family,
    two_tabs_refreshing_at_once_do_not_end_the_session,
    the_refresh_cookie_is_http_only_and_refreshes_the_session,
    a_password_change_ends_other_sessions,
    concurrent_wrong_passwords_cannot_outrun_the_throttle,
    bodies_that_are_not_json_are_refused_on_refresh_too,
    blank_names_and_nul_characters_are_refused,
    sign_ups_from_one_address_are_throttled,
    logout_ends_the_session,
    forged_expired_and_foreign_tokens_are_refused,
    only_owners_and_admins_manage_users,
    only_an_owner_makes_owners,
    the_last_owner_can_be_neither_demoted_nor_disabled,
    a_disabled_user_is_locked_out_at_once,
    a_user_created_without_a_password_gets_a_temporary_one,
);

async fn signup_creates_a_company_whose_owner_is_signed_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let owner = app.signup("Acme Inc").await;
    let me: Value = app.get("/api/v1/me", &owner.access_token).await.json().await.expect("json");

    assert_eq!(me["user"]["role"], "OWNER");
    assert_eq!(me["user"]["email"], owner.email);
    assert_eq!(me["company"]["name"], "Acme Inc");
    assert_eq!(me["company"]["id"], owner.company_id);
    assert_eq!(me["company"]["billing_email"], owner.email);
}

async fn one_email_cannot_sign_up_twice_whatever_its_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("First").await;

    let response = app
        .request(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"company_name": "Second", "name": "X", "email": owner.email.to_uppercase(), "password": PASSWORD})),
        )
        .await;

    assert_eq!(problem(response, StatusCode::CONFLICT).await["code"], "email_taken");
    assert_eq!(app.login(&owner.email.to_uppercase()).await.company_id, owner.company_id, "login normalises too");
}

async fn login_attempt(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": password}))).await
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let wrong_password =
        problem(login_attempt(&app, &owner.email, "not the password").await, StatusCode::UNAUTHORIZED).await;
    let unknown_email =
        problem(login_attempt(&app, "nobody@nowhere.test", PASSWORD).await, StatusCode::UNAUTHORIZED).await;

    assert_eq!(wrong_password["code"], "invalid_credentials");
    assert_eq!(wrong_password["detail"], unknown_email["detail"]);
    assert_eq!(wrong_password["code"], unknown_email["code"]);
}

async fn repeated_login_failures_are_throttled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    for _ in 0..5 {
        assert_eq!(login_attempt(&app, &owner.email, "guess guess guess").await.status(), StatusCode::UNAUTHORIZED);
    }

    let throttled = login_attempt(&app, &owner.email, PASSWORD).await;

    let retry_after: u64 =
        throttled.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds in Retry-After");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(throttled, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
}

async fn refresh_with(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token}))).await
}

async fn refresh_rotates_the_refresh_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let response = refresh_with(&app, &owner.refresh_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.expect("json");
    let rotated = session["refresh_token"].as_str().expect("new refresh token");
    assert_ne!(rotated, owner.refresh_token);
    let access = session["access_token"].as_str().expect("access token");
    assert_eq!(app.get("/api/v1/me", access).await.status(), StatusCode::OK);
    assert_eq!(refresh_with(&app, rotated).await.status(), StatusCode::OK, "the new token works once");
}

async fn a_reused_refresh_token_revokes_the_whole_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let first_use: Value = refresh_with(&app, &owner.refresh_token).await.json().await.expect("json");
    let legitimate_next = first_use["refresh_token"].as_str().expect("rotated").to_owned();
    // The copy is replayed later than the grace period for client races.
    app.execute_sql("UPDATE refresh_tokens SET used_at = '2000-01-01 00:00:00' WHERE used_at IS NOT NULL").await;

    let replay = refresh_with(&app, &owner.refresh_token).await;

    assert_eq!(problem(replay, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated");
    let after_theft = refresh_with(&app, &legitimate_next).await;
    assert_eq!(after_theft.status(), StatusCode::UNAUTHORIZED, "the whole family is revoked");
    let other_session = app.login(&owner.email).await;
    assert_eq!(
        refresh_with(&app, &other_session.refresh_token).await.status(),
        StatusCode::OK,
        "other sessions live on"
    );
}

async fn the_refresh_cookie_is_http_only_and_refreshes_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let login = app
        .request(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": owner.email, "password": PASSWORD})))
        .await;

    let cookie = login.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let body: Value = login.json().await.expect("json");
    assert!(body.get("refresh_token").is_none(), "browsers never see the refresh token in the body");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/api/v1/auth"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("name=value");
    let refreshed =
        app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", pair).send().await.expect("refresh");
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(refreshed.headers()["set-cookie"].to_str().expect("ascii").starts_with("vigil_refresh="));
}

async fn logout_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let response = app
        .request(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": owner.refresh_token})))
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["set-cookie"].to_str().expect("ascii").contains("Max-Age=0"));
    assert_eq!(refresh_with(&app, &owner.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

async fn forged_expired_and_foreign_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, iss: &str, aud: &str| json!({"sub": owner.user_id, "cid": owner.company_id, "role": "OWNER", "iss": iss, "aud": aud, "iat": now, "exp": exp});
    let b64 = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let valid = sign(&claims(now + 600, "vigil", "vigil-api"), TEST_JWT_SECRET);
    let (head, rest) = valid.split_once('.').expect("jwt");
    let (_, signature) = rest.split_once('.').expect("jwt");
    let escalated = json!({"sub": owner.user_id, "cid": uuid::Uuid::now_v7().to_string(), "role": "OWNER", "iss": "vigil", "aud": "vigil-api", "iat": now, "exp": now + 600});
    let tokens = [
        ("expired", sign(&claims(now - 120, "vigil", "vigil-api"), TEST_JWT_SECRET)),
        ("tampered", format!("{head}.{}.{signature}", b64(&escalated))),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(now + 600, "vigil", "vigil-api"))
            ),
        ),
        ("wrong audience", sign(&claims(now + 600, "vigil", "someone-else"), TEST_JWT_SECRET)),
        ("wrong issuer", sign(&claims(now + 600, "evil", "vigil-api"), TEST_JWT_SECRET)),
        (
            "wrong secret",
            sign(&claims(now + 600, "vigil", "vigil-api"), "another-secret-another-secret-another-secret"),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];

    assert_eq!(app.get("/api/v1/me", &valid).await.status(), StatusCode::OK, "the control token works");
    for (what, token) in tokens {
        let response = app.get("/api/v1/me", &token).await;
        assert_eq!(response.headers().get("www-authenticate").map(|v| v.as_bytes()), Some(&b"Bearer"[..]), "{what}");
        assert_eq!(problem(response, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated", "{what}");
    }
    let missing = app.request(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(problem(missing, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated");
}

async fn only_owners_and_admins_manage_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let viewer = app.add_user(&owner, "VIEWER").await;

    for session in [&manager, &viewer] {
        let listed = app.get("/api/v1/users", &session.access_token).await;
        assert_eq!(problem(listed, StatusCode::FORBIDDEN).await["code"], "forbidden");
        let created = app
            .post("/api/v1/users", &session.access_token, json!({"email": "x@y.test", "name": "X", "role": "VIEWER"}))
            .await;
        assert_eq!(created.status(), StatusCode::FORBIDDEN);
    }
    let listed: Value = app.get("/api/v1/users?per_page=2", &admin.access_token).await.json().await.expect("json");
    assert_eq!(listed["total"], 4);
    assert_eq!(listed["per_page"], 2);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let promoted =
        app.patch(&format!("/api/v1/users/{}", viewer.user_id), &admin.access_token, json!({"role": "MANAGER"})).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(promoted.json::<Value>().await.expect("json")["role"], "MANAGER");
}

async fn only_an_owner_makes_owners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let viewer = app.add_user(&owner, "VIEWER").await;

    let by_admin =
        app.patch(&format!("/api/v1/users/{}", viewer.user_id), &admin.access_token, json!({"role": "OWNER"})).await;
    let create_owner = app
        .post(
            "/api/v1/users",
            &admin.access_token,
            json!({"email": "o@acme.test", "name": "O", "role": "OWNER", "password": PASSWORD}),
        )
        .await;
    let demote_owner =
        app.patch(&format!("/api/v1/users/{}", owner.user_id), &admin.access_token, json!({"role": "VIEWER"})).await;
    let by_owner =
        app.patch(&format!("/api/v1/users/{}", viewer.user_id), &owner.access_token, json!({"role": "OWNER"})).await;

    assert_eq!(problem(by_admin, StatusCode::FORBIDDEN).await["code"], "forbidden");
    assert_eq!(create_owner.status(), StatusCode::FORBIDDEN);
    assert_eq!(demote_owner.status(), StatusCode::FORBIDDEN);
    assert_eq!(by_owner.status(), StatusCode::OK);
}

async fn the_last_owner_can_be_neither_demoted_nor_disabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let second = app.add_user(&owner, "ADMIN").await;
    let path = format!("/api/v1/users/{}", owner.user_id);

    let demoted = app.patch(&path, &owner.access_token, json!({"role": "ADMIN"})).await;
    let disabled = app.patch(&path, &owner.access_token, json!({"active": false})).await;

    assert_eq!(problem(demoted, StatusCode::CONFLICT).await["code"], "last_owner");
    assert_eq!(problem(disabled, StatusCode::CONFLICT).await["code"], "cannot_disable_self");
    let promote =
        app.patch(&format!("/api/v1/users/{}", second.user_id), &owner.access_token, json!({"role": "OWNER"})).await;
    assert_eq!(promote.status(), StatusCode::OK);
    let now_allowed = app.patch(&path, &owner.access_token, json!({"role": "ADMIN"})).await;
    assert_eq!(now_allowed.status(), StatusCode::OK, "with a second owner the first may step down");
    let me: Value = app.get("/api/v1/me", &owner.access_token).await.json().await.expect("json");
    assert_eq!(me["user"]["role"], "ADMIN", "the role change applies to the live token at once");
}

async fn a_disabled_user_is_locked_out_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;

    let response =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;

    assert_eq!(response.json::<Value>().await.expect("json")["active"], false);
    assert_eq!(app.get("/api/v1/me", &admin.access_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_with(&app, &admin.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login_attempt(&app, &admin.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let enabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": true})).await;
    assert_eq!(enabled.status(), StatusCode::OK);
    assert_eq!(login_attempt(&app, &admin.email, PASSWORD).await.status(), StatusCode::OK);
}

async fn a_user_created_without_a_password_gets_a_temporary_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let response = app
        .post("/api/v1/users", &owner.access_token, json!({"email": "New@Acme.test", "name": "New", "role": "VIEWER"}))
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["email"], "new@acme.test");
    let temporary = body["temporary_password"].as_str().expect("temporary password");
    assert_eq!(login_attempt(&app, "new@acme.test", temporary).await.status(), StatusCode::OK);
    let duplicate = app
        .post("/api/v1/users", &owner.access_token, json!({"email": "new@acme.test", "name": "N", "role": "VIEWER"}))
        .await;
    assert_eq!(problem(duplicate, StatusCode::CONFLICT).await["code"], "email_taken");
}

async fn two_tabs_refreshing_at_once_do_not_end_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let (first, second) =
        tokio::join!(refresh_with(&app, &owner.refresh_token), refresh_with(&app, &owner.refresh_token));

    let statuses = [first.status(), second.status()];
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let winner = if first.status() == StatusCode::OK { first } else { second };
    let session: Value = winner.json().await.expect("json");
    let next = session["refresh_token"].as_str().expect("rotated");
    assert_eq!(refresh_with(&app, next).await.status(), StatusCode::OK, "the race did not revoke the session");
}

async fn a_password_change_ends_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let other_device = app.login(&owner.email).await;
    let change = |current: &str, new: &str| {
        app.post("/api/v1/me/password", &owner.access_token, json!({"current_password": current, "new_password": new}))
    };

    let wrong = change("not my password", "a brand new passphrase").await;
    let changed = change(PASSWORD, "a brand new passphrase").await;

    assert_eq!(
        problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["current_password"],
        json!(["is not your current password"])
    );
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(refresh_with(&app, &other_device.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login_attempt(&app, &owner.email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login_attempt(&app, &owner.email, "a brand new passphrase").await.status(), StatusCode::OK);
}

async fn concurrent_wrong_passwords_cannot_outrun_the_throttle(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("DB_POOL_SIZE", "8")]).await;
    let owner = app.signup("Acme").await;

    let attempts = (0..20).map(|_| login_attempt(&app, &owner.email, "guess guess guess"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts).await.iter().map(|r| r.status()).collect();

    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 5, "{checked} passwords were checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 20 - checked);
}

async fn bodies_that_are_not_json_are_refused_on_refresh_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let malformed = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    let empty = app.client.post(app.url("/api/v1/auth/refresh")).send().await.expect("request");

    assert_eq!(problem(malformed, StatusCode::BAD_REQUEST).await["code"], "malformed_json");
    assert_eq!(
        problem(empty, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated",
        "no body means: use the cookie"
    );
}

async fn blank_names_and_nul_characters_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let blank = app
        .request(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"company_name": "   ", "name": "A", "email": "a@b.test", "password": PASSWORD})),
        )
        .await;
    let nul = app
        .request(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"company_name": "A\u{0}B", "name": "A", "email": "n@b.test", "password": PASSWORD})),
        )
        .await;
    let nul_login = login_attempt(&app, "a\u{0}@b.test", PASSWORD).await;
    let nul_query = app.get("/api/v1/audit-logs?action=%00", &owner.access_token).await;

    assert_eq!(
        problem(blank, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["company_name"],
        json!(["must not be blank"])
    );
    assert_eq!(
        problem(nul, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["company_name"],
        json!(["must not contain NUL characters"])
    );
    assert_eq!(nul_login.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(nul_query, StatusCode::BAD_REQUEST).await["code"], "bad_request");
}

async fn sign_ups_from_one_address_are_throttled(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SIGNUPS_PER_ADDRESS_PER_HOUR", "2")]).await;
    app.signup("One").await;
    app.signup("Two").await;

    let third = app
        .request(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"company_name": "Three", "name": "T", "email": "three@example.test", "password": PASSWORD})),
        )
        .await;

    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(problem(third, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
}
