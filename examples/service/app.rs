//! The users API: model, handlers, router and server. `main.rs` runs it from the environment;
//! `tests/service.rs` builds the same [`App`] and drives it over real HTTP.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /users` | `{"name": …, "color": …}` | `201` the stored row, `pkid` included |
//! | `POST /users/bulk` | `[{"name": …, "color": …}, …]` | `201` the stored rows, all or none |
//! | `GET /users?page=&page_size=&color=` | | `200` `{items, total, page, page_size, pages}`, by name |
//! | `GET /users/{pkid}` | | `200` the row |
//! | `PATCH /users/{pkid}` | any of `{"name": …, "color": …}` | `200` the updated row |
//! | `DELETE /users/{pkid}` | | `204` |
//! | `GET /api/health/status` | | `200` `{"status": "UP"}` while the process runs (liveness) |
//! | `GET /api/health/uptime` | | `200` `{"uptime": {"Days", "Hours", "Minutes", "Seconds"}}` |
//! | `GET /api/health/ready` | | `200` when the database answers within [`READY_TIMEOUT`], else `503` |
//!
//! Every `DatabaseError` becomes a response in one place, the crate's `axum` feature
//! (`IntoResponse for DatabaseError`): 404 not found, 409 duplicate name, 422 invalid input,
//! 503 database unreachable or pool exhausted, 500 otherwise; the body is the error's
//! `{"error", "details"}`. A body or query string that cannot be read is answered here, in
//! [`ApiError`], with the same JSON shape (`"error": "InvalidInput"`): 422 for values of the
//! wrong type or shape, 400 for JSON that does not parse, 415 without a JSON content type.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dsg_lib::async_database_functions::{
    database_operations::DEFAULT_PAGE_SIZE, error::ErrorStyle, http::python_errors,
};
use dsg_lib::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

/// How long the readiness probe waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest `name` (the column is `VARCHAR(100)`).
const NAME_MAX: usize = 100;

/// The seed's users model.
#[derive(Model, Debug, Clone, Serialize)]
#[model(table = "users")]
pub struct User {
    #[model(flatten)]
    #[serde(flatten)]
    pub base: SchemaBase,
    #[model(unique, index, size = 100)]
    pub name: String,
    pub color: Option<String>,
}

/// The body of `POST /users` (and each element of `POST /users/bulk`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

impl NewUser {
    fn into_user(self) -> Result<User, ApiError> {
        check_name(&self.name)?;
        Ok(User {
            base: SchemaBase::new(),
            name: self.name,
            color: self.color,
        })
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    if length == 0 || length > NAME_MAX {
        return Err(DatabaseError::invalid_input(format!(
            "name must be 1 to {NAME_MAX} characters, got {length}"
        ))
        .into());
    }
    Ok(())
}

/// The query of `GET /users`. Read as text so that a bad number is answered as bad
/// pagination, like a page of 0.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
    page_size: Option<String>,
    color: Option<String>,
}

fn page_number(name: &str, text: Option<&str>, default: u64) -> Result<u64, DatabaseError> {
    match text {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            DatabaseError::invalid_pagination(format!("{name} must be a whole number, at least 1"))
        }),
    }
}

/// What a handler fails with: a database error (mapped by the crate's `axum` feature), or a
/// request the handler could not read.
#[derive(Debug)]
pub enum ApiError {
    Database(DatabaseError),
    Unreadable(StatusCode, String),
}

impl From<DatabaseError> for ApiError {
    fn from(error: DatabaseError) -> Self {
        ApiError::Database(error)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // 422 wrong shape or type, 400 not JSON, 415 no JSON content type, 413 too large.
        ApiError::Unreadable(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Unreadable(StatusCode::UNPROCESSABLE_ENTITY, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Database(error) => error.into_response(),
            ApiError::Unreadable(status, details) => (
                status,
                Json(json!({ "error": ErrorKind::InvalidInput.as_str(), "details": details })),
            )
                .into_response(),
        }
    }
}

/// The service: the database and what the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct App {
    ops: DatabaseOperations,
    tables: Arc<tokio::sync::OnceCell<()>>,
    started: Instant,
    error_style: ErrorStyle,
}

impl App {
    /// The service over `config`; nothing is connected yet. `error_style`
    /// [`ErrorStyle::Python`] answers with the Python dsg_lib's error strings.
    pub fn new(config: DBConfig, error_style: ErrorStyle) -> Self {
        let db = AsyncDatabase::new(config);
        db.register::<User>();
        App {
            ops: DatabaseOperations::new(db),
            tables: Arc::new(tokio::sync::OnceCell::new()),
            started: Instant::now(),
            error_style,
        }
    }

    /// The database.
    pub fn database(&self) -> &AsyncDatabase {
        self.ops.database()
    }

    /// Creates the tables once (idempotent): at start, and, if the database was down then,
    /// on the first request that finds it up.
    pub async fn create_tables(&self) -> Result<(), DatabaseError> {
        self.tables
            .get_or_try_init(|| self.database().create_tables())
            .await
            .map(|_| ())
    }

    /// The operations, once the tables exist.
    async fn ops(&self) -> Result<&DatabaseOperations, DatabaseError> {
        self.create_tables().await?;
        Ok(&self.ops)
    }

    fn not_found(&self, pkid: &str) -> DatabaseError {
        if self.database().config().hide_parameters() {
            DatabaseError::not_found("no users row with this pkid")
        } else {
            DatabaseError::not_found(format!("no users row with pkid = {pkid:?}"))
        }
    }

    /// The routes, with request logging and the chosen error style.
    pub fn router(&self) -> Router {
        let mut router = Router::new()
            .route("/users", get(list_users).post(create_user))
            .route("/users/bulk", axum::routing::post(create_users))
            .route(
                "/users/{pkid}",
                get(get_user).patch(update_user).delete(delete_user),
            )
            .route("/api/health/status", get(status))
            .route("/api/health/uptime", get(uptime))
            .route("/api/health/ready", get(ready))
            .with_state(self.clone());
        if self.error_style == ErrorStyle::Python {
            router = router.layer(axum::middleware::map_response(python_errors));
        }
        router.layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
    }

    /// Serves on `listener` until `shutdown` resolves, lets requests in flight finish, then
    /// disconnects the database.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await;
        self.database().disconnect().await;
        tracing::info!("database disconnected; bye");
        served
    }

    fn uptime(&self) -> Value {
        let secs = self.started.elapsed().as_secs_f64();
        let whole = secs as u64;
        json!({
            "Days": whole / 86_400,
            "Hours": whole % 86_400 / 3_600,
            "Minutes": whole % 3_600 / 60,
            "Seconds": ((secs % 60.0) * 100.0).round() / 100.0,
        })
    }
}

async fn create_user(
    State(app): State<App>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let Json(new) = body?;
    let user = app.ops().await?.create_one(new.into_user()?).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn create_users(
    State(app): State<App>,
    body: Result<Json<Vec<NewUser>>, JsonRejection>,
) -> Result<(StatusCode, Json<Vec<User>>), ApiError> {
    let Json(new) = body?;
    let users = new
        .into_iter()
        .map(NewUser::into_user)
        .collect::<Result<Vec<_>, _>>()?;
    let users = app.ops().await?.create_many(users).await?;
    Ok((StatusCode::CREATED, Json(users)))
}

async fn list_users(
    State(app): State<App>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Page<User>, ApiError> {
    let Query(query) = query?;
    let page = page_number("page", query.page.as_deref(), 1)?;
    let page_size = page_number("page_size", query.page_size.as_deref(), DEFAULT_PAGE_SIZE)?;
    let mut select = User::select();
    if let Some(color) = query.color {
        select.and_where(User::col("color").eq(color));
    }
    select.order_by("name", Order::Asc);
    // page or page_size 0: the library's 422 "Invalid pagination parameters".
    Ok(app
        .ops()
        .await?
        .paginate_query(&select, page, page_size)
        .await?)
}

async fn get_user(
    State(app): State<App>,
    Path(pkid): Path<String>,
) -> Result<Json<User>, ApiError> {
    let mut select = User::select();
    select.and_where(User::col("pkid").eq(pkid.clone()));
    match app.ops().await?.read_one_record::<User>(&select).await? {
        Some(user) => Ok(Json(user)),
        None => Err(app.not_found(&pkid).into()),
    }
}

async fn update_user(
    State(app): State<App>,
    Path(pkid): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let Json(changes) = body?;
    if let Some(Value::String(name)) = changes.get("name") {
        check_name(name)?;
    }
    // Unknown columns and wrongly typed values: the library's 422; no such row: 404.
    let user = app.ops().await?.update_one::<User>(pkid, changes).await?;
    Ok(Json(user))
}

async fn delete_user(
    State(app): State<App>,
    Path(pkid): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.ops().await?.delete_one::<User>(pkid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Liveness: the process answers. Never touches the database.
async fn status() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

async fn uptime(State(app): State<App>) -> Json<Value> {
    Json(json!({ "uptime": app.uptime() }))
}

/// Readiness: the database answers a query within [`READY_TIMEOUT`].
async fn ready(State(app): State<App>) -> Response {
    let started = Instant::now();
    let probe = async {
        app.create_tables().await?;
        app.ops.read_query::<Record>(&text("SELECT 1 AS ok")).await
    };
    let outcome = match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(DatabaseError::new(
            ErrorKind::ConnectionError,
            format!("the database did not answer within {READY_TIMEOUT:?}"),
        )),
    };
    let db = app.database();
    let mut body = json!({
        "status": "UP",
        "database": {
            "dialect": db.config().dialect().name(),
            "response_ms": (started.elapsed().as_secs_f64() * 1e5).round() / 100.0,
        },
        "pool": db.pool_stats(),
        "uptime": app.uptime(),
    });
    match outcome {
        Ok(()) => (StatusCode::OK, Json(body)).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            body["status"] = json!("DOWN");
            body["database"]["error"] = json!(error.with_style(app.error_style));
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
