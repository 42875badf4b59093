//! The OpenAPI document covers every route of the router.

use std::path::Path;

use crate::helpers::{Backend, spawn};

both_backends!(the_openapi_document_is_3_1_and_every_documented_route_is_served);

async fn the_openapi_document_is_3_1_and_every_documented_route_is_served(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let document = app.get("/api/v1/openapi.json", &app.admin).await;
    document.expect(200);
    assert!(
        document.body["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3.1")
    );
    assert!(document.body["components"]["securitySchemes"]["bearer"].is_object());
    let paths = document.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{} paths", paths.len());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"].is_object(),
                "{method} {path} has responses"
            );
            let concrete = path
                .replace("{env}", "production")
                .replace("{key}", "x")
                .replace("{id}", "x")
                .replace("{version}", "1");
            if concrete.ends_with("/events") || concrete.ends_with("/logout") {
                continue;
            }
            let reply = app
                .request(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    Some(&app.admin),
                    &[],
                    None,
                )
                .await;
            let status = reply.status.as_u16();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            let no_route = reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("route "));
            assert!(!no_route, "{method} {path} is documented but not routed");
        }
    }
    // An undocumented path is not routed.
    let reply = app.get("/api/v1/nothing-here", &app.admin).await;
    reply.expect(404);
    assert!(reply.body["detail"].as_str().unwrap().starts_with("route "));
}

/// Routes are only ever added through `utoipa_axum::routes!`, which documents them: no source
/// file registers one with a bare `.route(`.
#[test]
fn no_route_is_registered_outside_the_documented_router() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in [".route(", ".route_service(", ".nest_service("] {
                    assert!(
                        !text.contains(needle),
                        "{} registers a route outside `routes!`",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(files > 10);
}
