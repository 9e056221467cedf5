//! The service example (`examples/service/`) over real HTTP: started on `127.0.0.1:0` against
//! in-memory SQLite and, when their URLs are set, PostgreSQL and MariaDB, driven with an HTTP
//! client. Every endpoint, every error status, 200 concurrent requests, graceful shutdown.
//!
//! On the servers each run gets its own schema (PostgreSQL, via `search_path`) or database
//! (MySQL/MariaDB), so the example's `users` table never meets another test's.

#[path = "../examples/service/app.rs"]
mod app;
mod common;

use std::time::Duration;

use app::App;
use common::Backend;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::error::ErrorStyle;
use dsg_lib::async_database_functions::statement::text;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A service running on a free port of 127.0.0.1.
struct Running {
    base: String,
    app: App,
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Starts the service as `main.rs` does: tables created first (a failure is tolerated,
    /// as there), then serving.
    async fn start(config: DBConfig, style: ErrorStyle) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = App::new(config, style);
        let _ = app.create_tables().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(app.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Running {
            base,
            app,
            stop,
            served,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Graceful shutdown: the server stops, then the database is disconnected.
    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the server stops within 10 s")
            .unwrap()
            .unwrap();
        assert!(self.app.database().is_disconnected());
        let refused = Client::new()
            .get(format!("{}/api/health/status", self.base))
            .send();
        assert!(refused.await.is_err(), "nothing listens after shutdown");
    }
}

/// Sends a request and returns its status and JSON body (`Null` for an empty body).
async fn call(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {bytes:?}"))
    };
    (status, body)
}

/// An isolated database on `backend`: the config of the service, and how to clean up.
struct Isolated {
    config: DBConfig,
    cleanup: Option<(AsyncDatabase, String)>,
}

async fn isolated(backend: &Backend, extra: Value) -> Isolated {
    let name = common::unique_table("svc");
    let mut map = backend.config_map(extra);
    let cleanup = match backend.name {
        "postgres" => {
            let admin = backend.database(json!({}));
            admin_run(&admin, &format!("CREATE SCHEMA {name}")).await;
            map["connect_args"] = json!({ "server_settings": { "search_path": name } });
            Some((admin, format!("DROP SCHEMA {name} CASCADE")))
        }
        "mysql" => {
            let admin = backend.database(json!({}));
            admin_run(&admin, &format!("CREATE DATABASE {name}")).await;
            let mut url = url::Url::parse(&backend.uri).unwrap();
            url.set_path(&format!("/{name}"));
            map["database_uri"] = json!(url.to_string());
            Some((admin, format!("DROP DATABASE {name}")))
        }
        _ => None,
    };
    Isolated {
        config: DBConfig::new(map).unwrap(),
        cleanup,
    }
}

async fn admin_run(db: &AsyncDatabase, sql: &str) {
    let ops =
        dsg_lib::async_database_functions::database_operations::DatabaseOperations::new(db.clone());
    ops.execute_one(&text(sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Isolated {
    async fn clean_up(self) {
        if let Some((admin, sql)) = self.cleanup {
            admin_run(&admin, &sql).await;
            admin.disconnect().await;
        }
    }
}

#[tokio::test]
async fn every_endpoint_and_every_error_status_on_every_backend() {
    for backend in common::backends() {
        let db = isolated(&backend, json!({})).await;
        let service = Running::start(db.config.clone(), ErrorStyle::Kinds).await;
        users_api(&service, backend.name).await;
        health(&service, backend.name).await;
        concurrent_requests(&service, backend.name).await;
        broken_table_is_500(&service, backend.name).await;
        service.shut_down().await;
        db.clean_up().await;
    }
}

async fn users_api(service: &Running, backend: &str) {
    let client = Client::new();
    let users = service.url("/users");

    // POST /users: 201 with the stored row.
    let (status, mike) = call(
        client
            .post(&users)
            .json(&json!({"name": "Mike", "color": "red"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {mike}");
    let mike_id = mike["pkid"].as_str().unwrap().to_string();
    assert_eq!(mike_id.len(), 36);
    assert_eq!(
        (mike["name"].as_str(), mike["color"].as_str()),
        (Some("Mike"), Some("red"))
    );
    assert!(mike["date_created"].is_string() && mike["date_updated"].is_string());

    // A duplicate name: 409, the library's integrity error.
    let (status, body) = call(client.post(&users).json(&json!({"name": "Mike"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    assert_eq!(body["error"], "IntegrityError");
    assert!(!body["details"].as_str().unwrap().is_empty());

    // POST /users/bulk: 201 with every row; with a duplicate inside, 409 and none stored.
    let (status, bulk) = call(
        client
            .post(service.url("/users/bulk"))
            .json(&json!([{"name": "Sara", "color": "blue"}, {"name": "Ann"}])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {bulk}");
    assert_eq!(bulk.as_array().unwrap().len(), 2);
    assert_eq!(bulk[1]["color"], Value::Null);
    let (status, body) = call(
        client
            .post(service.url("/users/bulk"))
            .json(&json!([{"name": "Zed"}, {"name": "Mike"}])),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");

    // GET /users: pages by name, the true total, an empty page past the end.
    let (status, page) = call(client.get(format!("{users}?page=1&page_size=2"))).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ann", "Mike"], "{backend}: Zed was rolled back");
    assert_eq!(
        (
            &page["total"],
            &page["page"],
            &page["page_size"],
            &page["pages"]
        ),
        (&json!(3), &json!(1), &json!(2), &json!(2))
    );
    let (_, page) = call(client.get(format!("{users}?page=2&page_size=2"))).await;
    assert_eq!(page["items"][0]["name"], "Sara");
    let (status, page) = call(client.get(format!("{users}?page=9&page_size=2"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["items"].as_array().unwrap().len(), &page["total"]),
        (0, &json!(3))
    );
    let (_, page) = call(client.get(format!("{users}?color=red"))).await;
    assert_eq!(
        (&page["total"], &page["page_size"]),
        (&json!(1), &json!(100))
    );
    assert_eq!(page["items"][0]["pkid"], mike["pkid"]);

    // Bad pagination: 422.
    for query in [
        "page=0",
        "page_size=0",
        "page=abc",
        "page=-1",
        "page_size=1.5",
    ] {
        let (status, body) = call(client.get(format!("{users}?{query}"))).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend} {query}: {body}"
        );
        assert_eq!(body["error"], "InvalidInput", "{query}");
        assert!(
            body["details"].as_str().unwrap().contains("page"),
            "{query}: {body}"
        );
    }

    // GET /users/{pkid}: 200, or 404.
    let one = service.url(&format!("/users/{mike_id}"));
    let (status, body) = call(client.get(&one)).await;
    assert_eq!((status, &body["name"]), (StatusCode::OK, &json!("Mike")));
    let missing = service.url("/users/00000000-0000-4000-8000-000000000000");
    let (status, body) = call(client.get(&missing)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{backend}: {body}");
    assert_eq!(body["error"], "RecordNotFound");

    // PATCH /users/{pkid}: partial update; 409 on a taken name, 404, 422 on bad changes.
    let (status, body) = call(client.patch(&one).json(&json!({"color": "green"}))).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {body}");
    assert_eq!(
        (&body["name"], &body["color"]),
        (&json!("Mike"), &json!("green"))
    );
    assert_eq!(body["date_created"], mike["date_created"]);
    assert_ne!(body["date_updated"], mike["date_updated"]);
    let (status, body) = call(client.patch(&one).json(&json!({"color": null}))).await;
    assert_eq!((status, &body["color"]), (StatusCode::OK, &Value::Null));
    let (status, body) = call(client.patch(&one).json(&json!({"name": "Sara"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    let (status, _) = call(client.patch(&missing).json(&json!({"color": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for changes in [
        json!({"favourite": "tea"}),
        json!({"name": 5}),
        json!({"name": ""}),
        json!(["not", "a", "map"]),
    ] {
        let (status, body) = call(client.patch(&one).json(&changes)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend} {changes}: {body}"
        );
        assert_eq!(body["error"], "InvalidInput");
    }
    let (_, body) = call(client.get(&one)).await;
    assert_eq!(
        body["name"], "Mike",
        "{backend}: refused changes left the row alone"
    );

    // DELETE /users/{pkid}: 204, then 404.
    let (status, body) = call(client.delete(&one)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _) = call(client.delete(&one)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(client.get(&one)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn health(service: &Running, backend: &str) {
    let client = Client::new();
    let (status, body) = call(client.get(service.url("/api/health/status"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "UP"})));
    let (status, body) = call(client.get(service.url("/api/health/ready"))).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {body}");
    assert_eq!(body["status"], "UP");
    let dialect = body["database"]["dialect"].as_str().unwrap();
    assert!(backend.starts_with(&dialect[..5]), "{backend} vs {dialect}");
    assert!(body["database"]["response_ms"].as_f64().unwrap() < 2000.0);
    assert!(body["pool"]["max"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["uptime"]["Seconds"].is_number());
    let (status, body) = call(client.get(service.url("/api/health/uptime"))).await;
    assert_eq!(status, StatusCode::OK);
    for unit in ["Days", "Hours", "Minutes", "Seconds"] {
        assert!(body["uptime"][unit].is_number(), "{unit}: {body}");
    }
}

/// 100 creates and 100 page reads at once: every one succeeds, every row is stored.
async fn concurrent_requests(service: &Running, backend: &str) {
    let client = Client::new();
    let (_, before) = call(client.get(service.url("/users?page_size=1"))).await;
    let before = before["total"].as_u64().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let client = client.clone();
        let request = if i % 2 == 0 {
            client
                .post(service.url("/users"))
                .json(&json!({"name": format!("load-{i:03}"), "color": "load"}))
        } else {
            client.get(service.url("/users?page=1&page_size=5&color=load"))
        };
        tasks.spawn(async move { call(request).await });
    }
    let mut statuses = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert!(status.is_success(), "{backend}: {status} {body}");
        statuses.push(status);
    }
    assert_eq!(statuses.len(), 200);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        100
    );
    let (_, after) = call(client.get(service.url("/users?page_size=1"))).await;
    assert_eq!(after["total"].as_u64().unwrap(), before + 100, "{backend}");
}

/// A database error the service cannot classify (its table is gone): 500, in the same shape.
async fn broken_table_is_500(service: &Running, backend: &str) {
    service.app.database().drop_tables().await.unwrap();
    let (status, body) = call(Client::new().get(service.url("/users"))).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{backend}: {body}"
    );
    assert_eq!(body["error"], "DatabaseError");
    assert!(body["details"].is_string());
}

#[tokio::test]
async fn malformed_requests_are_answered_4xx_with_a_json_body() {
    let config = DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap();
    let service = Running::start(config, ErrorStyle::Kinds).await;
    let client = Client::new();
    let users = service.url("/users");
    let cases = [
        // Not JSON at all: 400.
        (
            client
                .post(&users)
                .header("content-type", "application/json")
                .body("{\"name\": "),
            StatusCode::BAD_REQUEST,
        ),
        // No JSON content type: 415.
        (
            client.post(&users).body("{\"name\": \"x\"}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        // JSON of the wrong shape or types: 422.
        (
            client.post(&users).json(&json!({"name": 5})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client.post(&users).json(&json!({"color": "red"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client.post(&users).json(&json!({"name": "x", "age": 3})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client.post(&users).json(&json!({"name": ""})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client.post(&users).json(&json!({"name": "n".repeat(101)})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client
                .post(service.url("/users/bulk"))
                .json(&json!({"name": "x"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            client.patch(service.url("/users/x")).body("not json"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        // A repeated query key: 422.
        (
            client.get(format!("{users}?color=a&color=b")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = call(request).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["error"], "InvalidInput", "{body}");
        assert!(!body["details"].as_str().unwrap().is_empty(), "{body}");
    }
    // Nothing above was stored; an unknown route is a plain 404.
    let (_, page) = call(client.get(&users)).await;
    assert_eq!(page["total"], 0);
    let response = client.get(service.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    service.shut_down().await;
}

/// A service whose `DATABASE_URL` points at a closed port starts, is alive, is not ready, and
/// answers every database request with 503 — never with the password.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_unreachable_database_is_503() {
    let config = DBConfig::from_vars([
        (
            "DATABASE_URL",
            "postgresql+asyncpg://app:s3cret-pw@127.0.0.1:1/app",
        ),
        ("DSG_DB_POOL_TIMEOUT", "5"),
    ])
    .unwrap();
    let service = Running::start(config, ErrorStyle::Kinds).await;
    let client = Client::new();
    let (status, body) = call(client.get(service.url("/api/health/status"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "UP"})));
    let (status, body) = call(client.get(service.url("/api/health/ready"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["database"]["error"]["error"], "ConnectionError");
    assert!(!body.to_string().contains("s3cret-pw"), "{body}");
    let requests = [
        client.get(service.url("/users")),
        client.get(service.url("/users/abc")),
        client
            .post(service.url("/users"))
            .json(&json!({"name": "Mike"})),
        client.delete(service.url("/users/abc")),
    ];
    for request in requests {
        let started = std::time::Instant::now();
        let (status, body) = call(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "ConnectionError", "{body}");
        assert!(!body.to_string().contains("s3cret-pw"), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "fails fast, not at pool_timeout"
        );
    }
    service.shut_down().await;
}

#[tokio::test]
async fn the_python_error_strings_over_http() {
    let config = DBConfig::new(json!({"database_uri": "sqlite::memory:"})).unwrap();
    let service = Running::start(config, ErrorStyle::Python).await;
    let client = Client::new();
    let users = service.url("/users");
    let (status, _) = call(client.post(&users).json(&json!({"name": "Mike"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(client.post(&users).json(&json!({"name": "Mike"}))).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::CONFLICT, &json!("IntegrityError"))
    );
    let (status, body) = call(client.get(service.url("/users/nope"))).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &json!("Record not found"))
    );
    assert_eq!(body["details"], "no users row with pkid = \"nope\"");
    let (status, body) = call(client.delete(service.url("/users/nope"))).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &json!("Record not found"))
    );
    for query in ["page=0", "page_size=0", "page=x"] {
        let (status, body) = call(client.get(format!("{users}?{query}"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"], "Invalid pagination parameters", "{query}");
    }
    let (status, body) = call(
        client
            .patch(service.url("/users/nope"))
            .json(&json!({"x": 1})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("SQLAlchemyError"))
    );
    // Successful answers are untouched.
    let (status, page) = call(client.get(&users)).await;
    assert_eq!((status, &page["total"]), (StatusCode::OK, &json!(1)));
    service.shut_down().await;
}

/// With `hide_parameters`, no error body carries a value the client sent.
#[tokio::test]
async fn hide_parameters_keeps_values_out_of_error_bodies() {
    for backend in common::backends() {
        let db = isolated(&backend, json!({"hide_parameters": true})).await;
        let service = Running::start(db.config.clone(), ErrorStyle::Kinds).await;
        let client = Client::new();
        let users = service.url("/users");
        let name = "Distinctive-Name-4711";
        let (status, _) = call(client.post(&users).json(&json!({"name": name}))).await;
        assert_eq!(status, StatusCode::CREATED, "{}", backend.name);
        let (status, body) = call(client.post(&users).json(&json!({"name": name}))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", backend.name);
        assert!(!body.to_string().contains(name), "{}: {body}", backend.name);
        let pkid = "Distinctive-Pkid-0815";
        for request in [
            client.get(service.url(&format!("/users/{pkid}"))),
            client.delete(service.url(&format!("/users/{pkid}"))),
            client
                .patch(service.url(&format!("/users/{pkid}")))
                .json(&json!({"color": "x"})),
        ] {
            let (status, body) = call(request).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{}: {body}", backend.name);
            assert!(!body.to_string().contains(pkid), "{}: {body}", backend.name);
        }
        service.app.database().drop_tables().await.unwrap();
        service.shut_down().await;
        db.clean_up().await;
    }
}
