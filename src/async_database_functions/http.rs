//! HTTP responses for services built on [axum](https://docs.rs/axum) 0.8 (cargo feature
//! `axum`): a handler returns `Result<T, DatabaseError>` and uses `?` on every operation.
//!
//! - [`DatabaseError`] is an `IntoResponse`: the status is [`ErrorKind::http_status`] (404 not
//!   found, 409 integrity, 422 invalid input, 503 pool timeout / connection / disconnected /
//!   serialization failure, 500 the rest) and the body the error's JSON value,
//!   `{"error": …, "details": …}` — never a password, and with `hide_parameters` never a
//!   bound value. A 5xx is logged through `tracing` (target `dsg_lib::http`) with the error's
//!   details; a 4xx is logged at DEBUG.
//! - [`Page`] is an `IntoResponse`: `200` with `{items, total, page, page_size, pages}`.
//! - [`python_errors`] is a middleware that gives every error response of a router the Python
//!   dsg_lib's `"error"` strings (see [`ErrorStyle::Python`]).
//!
//! ```
//! use axum::{Router, extract::{Path, State}, routing::get};
//! use dsg_lib::async_database_functions::{
//!     database_operations::{DatabaseOperations, Page},
//!     error::DatabaseError,
//!     http::python_errors,
//!     record::Record,
//!     statement::text,
//! };
//!
//! async fn tables(State(ops): State<DatabaseOperations>) -> Result<axum::Json<Vec<String>>, DatabaseError> {
//!     Ok(axum::Json(ops.get_table_names().await?))
//! }
//!
//! async fn page(State(ops): State<DatabaseOperations>, Path(n): Path<u64>) -> Result<Page<Record>, DatabaseError> {
//!     let select = dsg_lib::sea_query::Query::select().expr(dsg_lib::sea_query::Expr::val(1)).to_owned();
//!     ops.paginate_query(&select, n, 10).await // page 0: 422 {"error": "Invalid pagination parameters", …}
//! }
//!
//! fn router(ops: DatabaseOperations) -> Router {
//!     Router::new()
//!         .route("/tables", get(tables))
//!         .route("/page/{n}", get(page))
//!         .layer(axum::middleware::map_response(python_errors))
//!         .with_state(ops)
//! }
//! ```

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::database_operations::Page;
use crate::async_database_functions::core::error::{DatabaseError, ErrorKind, ErrorStyle};

impl IntoResponse for DatabaseError {
    /// The error's HTTP status and JSON body, in the error's [style](DatabaseError::style).
    /// The error itself rides along in the response's extensions, for middleware such as
    /// [`python_errors`] or a service's own logging.
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(target: "dsg_lib::http", status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(target: "dsg_lib::http", status = status.as_u16(), error = %self, "request refused");
        }
        let mut response = (status, Json(&self)).into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    /// `200 OK` with the page as JSON: `{items, total, page, page_size, pages}`.
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// Middleware for [`axum::middleware::map_response`]: rewrites the body of every response
/// made from a [`DatabaseError`] with the Python dsg_lib's `"error"` strings (`"Record not
/// found"`, `"IntegrityError"`, …); the status and `details` stay as they are. Other
/// responses pass through untouched.
///
/// `router.layer(axum::middleware::map_response(python_errors))` makes a ported service
/// answer as the Python one did, without touching its handlers.
pub async fn python_errors(response: Response) -> Response {
    restyle(response, ErrorStyle::Python)
}

/// Rewrites the body of a response made from a [`DatabaseError`] in `style`.
pub fn restyle(response: Response, style: ErrorStyle) -> Response {
    match response.extensions().get::<DatabaseError>() {
        Some(error) if error.style() != style => {
            let status = response.status();
            let error = error.clone().with_style(style);
            let mut restyled = (status, Json(&error)).into_response();
            restyled.extensions_mut().insert(error);
            restyled
        }
        _ => response,
    }
}

/// The status [`DatabaseError`]'s `IntoResponse` answers with for `kind`.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn an_error_is_its_status_and_its_json() {
        let response = DatabaseError::not_found("no users row with pkid = 7").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            body(response).await,
            serde_json::json!({"error": "RecordNotFound", "details": "no users row with pkid = 7"})
        );
        let response = DatabaseError::new(ErrorKind::PoolTimeout, "busy").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn python_errors_rewrites_only_database_errors() {
        let response = python_errors(
            DatabaseError::invalid_pagination("page must be at least 1").into_response(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body(response).await["error"],
            "Invalid pagination parameters"
        );
        let plain = python_errors((StatusCode::IM_A_TEAPOT, "tea").into_response()).await;
        assert_eq!(plain.status(), StatusCode::IM_A_TEAPOT);
    }

    #[tokio::test]
    async fn a_page_is_200_json() {
        let page = Page {
            items: vec![1, 2],
            total: 5,
            page: 1,
            page_size: 2,
            pages: 3,
        };
        let response = page.into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            body(response).await,
            serde_json::json!({"items": [1, 2], "total": 5, "page": 1, "page_size": 2, "pages": 3})
        );
    }
}
