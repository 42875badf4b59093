//! The OpenAPI 3.1 document, generated from the handlers: every route is registered through
//! `utoipa_axum::routes!`, which adds it to the router and to the document at once.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::resources;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vane core API",
        description = "Configuration management for Vane: environments, flags, experiments, segments, layers, holdouts, metrics, users, API keys, audit log and snapshots. Errors are RFC 9457 problem+json.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "environments"), (name = "flags"), (name = "experiments"), (name = "segments"),
        (name = "layers"), (name = "holdouts"), (name = "metrics"), (name = "users"),
        (name = "api-keys"), (name = "auth"), (name = "audit"), (name = "snapshots"), (name = "edges"), (name = "system")
    )
)]
struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the service, documented.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(resources::system::router())
        .merge(resources::session::router())
        .merge(resources::browser_session::router())
        .merge(resources::environments::router())
        .merge(resources::flags::router())
        .merge(resources::experiments::router())
        .merge(resources::segments::router())
        .merge(resources::layers::router())
        .merge(resources::holdouts::router())
        .merge(resources::metrics::router())
        .merge(resources::users::router())
        .merge(resources::api_keys::router())
        .merge(resources::audit::router())
        .merge(resources::snapshots::router())
        .merge(resources::edges::router())
}
