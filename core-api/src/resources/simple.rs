//! Keyed documents without a lifecycle (environments, segments, layers, holdouts, metric
//! definitions) share one implementation of list / create / get / update / delete; each
//! resource supplies its validation, what its changes affect, and its delete checks.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::{Meta, audit_value};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::{ApiJson, IfMatch, Page, PageQuery, body_key, tagged};
use crate::snapshot::Subject;
use crate::state::AppState;
use crate::store::docs::{self, Doc, Filter, Table};
use crate::write::Writer;

/// Which snapshots a change to a document affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Every environment's snapshot.
    AllSnapshots,
    /// The environment with this key (a new environment gets its first snapshot).
    OwnSnapshot,
    /// No snapshot.
    None,
}

/// What changes to a document do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// A keyed document resource.
pub trait SimpleResource:
    Serialize + DeserializeOwned + Clone + Send + Sync + ToSchema + 'static
{
    const TABLE: Table;
    /// Who may create, change and delete it.
    const WRITE_ACCESS: Access<'static>;

    fn key_field(&mut self) -> &mut Option<String>;

    /// Checks what the engine does not (it validates whatever goes into snapshots).
    fn validate(&self, errors: &mut Vec<FieldError>);

    fn effect(op: Op) -> Effect;

    /// Refuses a delete that would leave references behind (409).
    fn before_delete(
        _conn: &mut AnyConnection,
        _key: &str,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }
}

/// A stored document: its key, its fields, and its version and times.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item<T> {
    pub key: String,
    #[serde(flatten)]
    pub spec: T,
    #[serde(flatten)]
    pub meta: Meta,
}

impl<T: SimpleResource> Item<T> {
    pub fn from_doc(doc: Doc<T>) -> Self {
        let meta = Meta::of(&doc);
        Self {
            key: doc.key,
            spec: doc.body,
            meta,
        }
    }
}

/// Query of list routes.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    pub page: PageQuery,
}

pub async fn list<T: SimpleResource>(
    state: &AppState,
    caller: &Caller,
    page: &PageQuery,
) -> ApiResult<Page<Item<T>>> {
    caller.require(Access::Read)?;
    let limit = page.limit();
    let filter = Filter {
        after: page.cursor.clone(),
        limit: Some(limit + 1),
        ..Filter::default()
    };
    let mut conn = state.db().pool.acquire().await?;
    let docs = docs::list::<T>(&mut conn, T::TABLE, &filter).await?;
    let items = docs.into_iter().map(Item::from_doc).collect();
    Ok(Page::from_overfetch(items, limit, |i: &Item<T>| {
        i.key.clone()
    }))
}

pub async fn get<T: SimpleResource>(
    state: &AppState,
    caller: &Caller,
    key: &str,
) -> ApiResult<Response> {
    caller.require(Access::Read)?;
    let mut conn = state.db().pool.acquire().await?;
    let doc = docs::require::<T>(&mut conn, T::TABLE, key).await?;
    let version = doc.version;
    Ok(tagged(StatusCode::OK, version, &Item::from_doc(doc)))
}

fn check<T: SimpleResource>(spec: &T) -> ApiResult<()> {
    let mut errors = Vec::new();
    spec.validate(&mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn publish_effect<T: SimpleResource>(writer: &mut Writer<'_>, op: Op, key: &str) {
    match T::effect(op) {
        Effect::AllSnapshots => writer.affects_all(),
        Effect::OwnSnapshot => writer.affects(key),
        Effect::None => {}
    }
}

pub async fn create<T: SimpleResource>(
    state: &AppState,
    caller: &Caller,
    body: ApiJson<T>,
) -> ApiResult<Response> {
    caller.require(T::WRITE_ACCESS)?;
    let mut spec = body.parse()?;
    let key = body_key(spec.key_field(), None)?;
    *spec.key_field() = None;
    check(&spec)?;
    let mut writer = Writer::begin(state, caller.actor(), caller.request_id.clone()).await?;
    if docs::exists(writer.conn(), T::TABLE, &key).await? {
        return Err(ApiError::Conflict(format!(
            "{} `{key}` already exists",
            T::TABLE.kind()
        )));
    }
    let now = writer.now();
    let doc = docs::insert(writer.conn(), T::TABLE, &key, &spec, Vec::new(), now).await?;
    writer.audit(T::TABLE.kind(), &key, "create", None, audit_value(&spec));
    writer.subject(Subject::new(T::TABLE.kind(), &key));
    publish_effect::<T>(&mut writer, Op::Create, &key);
    writer.commit().await?;
    let version = doc.version;
    Ok(tagged(StatusCode::CREATED, version, &Item::from_doc(doc)))
}

pub async fn update<T: SimpleResource>(
    state: &AppState,
    caller: &Caller,
    key: &str,
    if_match: &IfMatch,
    body: ApiJson<T>,
) -> ApiResult<Response> {
    caller.require(T::WRITE_ACCESS)?;
    let mut spec = body.parse()?;
    body_key(spec.key_field(), Some(key))?;
    *spec.key_field() = None;
    check(&spec)?;
    let mut writer = Writer::begin(state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<T>(writer.conn(), T::TABLE, key).await?;
    if_match.check(current.version)?;
    let now = writer.now();
    let version = docs::update(
        writer.conn(),
        T::TABLE,
        key,
        &spec,
        Vec::new(),
        current.version,
        now,
    )
    .await?;
    writer.audit(
        T::TABLE.kind(),
        key,
        "update",
        audit_value(&current.body),
        audit_value(&spec),
    );
    writer.subject(Subject::new(T::TABLE.kind(), key));
    publish_effect::<T>(&mut writer, Op::Update, key);
    writer.commit().await?;
    let item = Item {
        key: key.to_owned(),
        spec,
        meta: Meta::new(version, current.created_at, now),
    };
    Ok(tagged(StatusCode::OK, version, &item))
}

pub async fn delete<T: SimpleResource>(
    state: &AppState,
    caller: &Caller,
    key: &str,
    if_match: &IfMatch,
) -> ApiResult<Response> {
    caller.require(T::WRITE_ACCESS)?;
    let mut writer = Writer::begin(state, caller.actor(), caller.request_id.clone()).await?;
    let current = docs::require::<T>(writer.conn(), T::TABLE, key).await?;
    if_match.check(current.version)?;
    T::before_delete(writer.conn(), key).await?;
    docs::delete(writer.conn(), T::TABLE, key, current.version).await?;
    writer.audit(
        T::TABLE.kind(),
        key,
        "delete",
        audit_value(&current.body),
        None,
    );
    publish_effect::<T>(&mut writer, Op::Delete, key);
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Generates the five annotated handlers of a simple resource and its router.
#[macro_export]
macro_rules! simple_routes {
    ($spec:ty, tag = $tag:literal, list = $list:literal, item = $item:literal, param = $param:literal) => {
        use $crate::http::Page;
        use $crate::resources::simple::Item;
        use $crate::error::Problem;

        /// The routes of this resource.
        pub fn router() -> utoipa_axum::router::OpenApiRouter<$crate::state::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                .routes(utoipa_axum::routes!(list_items, create_item))
                .routes(utoipa_axum::routes!(get_item, update_item, delete_item))
        }

        #[utoipa::path(get, path = $list, operation_id = concat!("list_", $tag), tag = $tag, params($crate::http::PageQuery),
            responses((status = 200, body = Page<Item<$spec>>),
                      (status = 401, body = Problem), (status = 403, body = Problem)),
            security(("bearer" = [])))]
        async fn list_items(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            caller: $crate::auth::Caller,
            $crate::http::ApiQuery(page): $crate::http::ApiQuery<$crate::http::PageQuery>,
        ) -> $crate::error::ApiResult<
            axum::Json<Page<Item<$spec>>>,
        > {
            $crate::resources::simple::list::<$spec>(&state, &caller, &page)
                .await
                .map(axum::Json)
        }

        #[utoipa::path(post, path = $list, operation_id = concat!("create_", $tag), tag = $tag, request_body = $spec,
            responses((status = 201, body = Item<$spec>),
                      (status = 409, body = Problem), (status = 422, body = Problem)),
            security(("bearer" = [])))]
        async fn create_item(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            caller: $crate::auth::Caller,
            spec: $crate::http::ApiJson<$spec>,
        ) -> $crate::error::ApiResult<axum::response::Response> {
            $crate::resources::simple::create::<$spec>(&state, &caller, spec).await
        }

        #[utoipa::path(get, path = $item, operation_id = concat!("get_", $tag), tag = $tag, params(($param = String, Path)),
            responses((status = 200, body = Item<$spec>),
                      (status = 404, body = Problem)),
            security(("bearer" = [])))]
        async fn get_item(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            caller: $crate::auth::Caller,
            axum::extract::Path(key): axum::extract::Path<String>,
        ) -> $crate::error::ApiResult<axum::response::Response> {
            $crate::resources::simple::get::<$spec>(&state, &caller, &key).await
        }

        #[utoipa::path(put, path = $item, operation_id = concat!("update_", $tag), tag = $tag, request_body = $spec,
            params(($param = String, Path), ("If-Match" = String, Header)),
            responses((status = 200, body = Item<$spec>),
                      (status = 412, body = Problem), (status = 422, body = Problem),
                      (status = 428, body = Problem)),
            security(("bearer" = [])))]
        async fn update_item(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            caller: $crate::auth::Caller,
            axum::extract::Path(key): axum::extract::Path<String>,
            if_match: $crate::http::IfMatch,
            spec: $crate::http::ApiJson<$spec>,
        ) -> $crate::error::ApiResult<axum::response::Response> {
            $crate::resources::simple::update::<$spec>(&state, &caller, &key, &if_match, spec).await
        }

        #[utoipa::path(delete, path = $item, operation_id = concat!("delete_", $tag), tag = $tag,
            params(($param = String, Path), ("If-Match" = String, Header)),
            responses((status = 204), (status = 409, body = Problem),
                      (status = 412, body = Problem), (status = 422, body = Problem)),
            security(("bearer" = [])))]
        async fn delete_item(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            caller: $crate::auth::Caller,
            axum::extract::Path(key): axum::extract::Path<String>,
            if_match: $crate::http::IfMatch,
        ) -> $crate::error::ApiResult<axum::response::Response> {
            $crate::resources::simple::delete::<$spec>(&state, &caller, &key, &if_match).await
        }
    };
}
