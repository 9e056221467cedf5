//! TLS for real: `sslmode`, `sslrootcert`, `sslcert`/`sslkey` against servers that speak TLS.
//!
//! - PostgreSQL (`DSG_TEST_POSTGRES_URL`): the machine's server serves TLS with its own
//!   self-signed certificate (`SHOW ssl_cert_file`); its configuration is never changed.
//! - MariaDB (when `DSG_TEST_MYSQL_URL` is set, so the MariaDB tools are on the machine): a
//!   throw-away `mariadbd` with a certificate from a CA made here, on a free port with its own
//!   data directory, killed and removed when the test ends, also when it fails. The server on
//!   3306 is not touched.
//! - Always: the failures that need no server (missing files, keys on SQLite, secrets in
//!   `Debug`).
//!
//! Certificates are made with `openssl` in a temporary directory. This is a test binary of its
//! own, so the throw-away server is started once per run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dsg_lib::async_database_functions::{
    async_database::AsyncDatabase, database_config::DBConfig,
    database_operations::DatabaseOperations, error::ErrorKind, statement::text,
};
use serde_json::{Value, json};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("dsg-tls-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA (`{name}.pem`, `{name}.key`) made with openssl in `dir`.
fn make_ca(dir: &TempDir, name: &str) -> PathBuf {
    let (cert, key) = (
        dir.path(&format!("{name}.pem")),
        dir.path(&format!("{name}.key")),
    );
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    cert
}

/// A certificate for `cn` signed by CA `ca`, with the given extensions; returns (cert, key).
fn make_leaf(dir: &TempDir, ca: &str, name: &str, extensions: &str) -> (PathBuf, PathBuf) {
    let (cert, key, csr, ext) = (
        dir.path(&format!("{name}.pem")),
        dir.path(&format!("{name}.key")),
        dir.path(&format!("{name}.csr")),
        dir.path(&format!("{name}.ext")),
    );
    std::fs::write(&ext, extensions).expect("extensions file");
    run(Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(dir.path(&format!("{ca}.pem")))
        .arg("-CAkey")
        .arg(dir.path(&format!("{ca}.key")))
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

/// Whether `err` says the server's certificate is not trusted (rustls: `UnknownIssuer`;
/// OpenSSL, with `tls-native-tls`: `certificate verify failed`), and what to check.
fn untrusted(err: &dsg_lib::DatabaseError) -> bool {
    let details = err.details();
    (details.contains("UnknownIssuer") || details.contains("certificate verify failed"))
        && details.contains("sslrootcert")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A database on `uri` with `connect_args`, failing fast.
fn database(uri: &str, connect_args: Value) -> AsyncDatabase {
    let config = DBConfig::new(json!({
        "database_uri": uri,
        "pool_timeout": 10,
        "connect_args": connect_args,
    }))
    .unwrap_or_else(|e| panic!("config for {uri}: {e}"));
    AsyncDatabase::new(config)
}

/// Runs `sql` on a fresh database and returns its rows as text pairs, or the error.
async fn query_pairs(
    uri: &str,
    connect_args: Value,
    sql: &str,
) -> Result<Vec<(String, String)>, dsg_lib::DatabaseError> {
    let db = database(uri, connect_args);
    let result = DatabaseOperations::new(db.clone())
        .read_query::<(String, String)>(&text(sql.to_string()))
        .await;
    db.disconnect().await;
    result
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the machine's server and its self-signed certificate.

fn postgres_uri() -> Option<String> {
    common::backends()
        .into_iter()
        .find(|b| b.name == "postgres")
        .map(|b| b.uri)
}

/// Whether the session of a fresh database with `connect_args` is encrypted.
async fn pg_session_ssl(uri: &str, connect_args: Value) -> Result<bool, dsg_lib::DatabaseError> {
    let db = database(uri, connect_args);
    let result = DatabaseOperations::new(db.clone())
        .read_one_record::<bool>(&text(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await;
    db.disconnect().await;
    result.map(|ssl| ssl.unwrap_or(false))
}

/// The server's certificate file, as the server reports it.
async fn pg_server_certificate(uri: &str) -> PathBuf {
    let db = database(uri, json!({}));
    let file: Option<String> = DatabaseOperations::new(db.clone())
        .read_one_record(&text("SHOW ssl_cert_file"))
        .await
        .expect("SHOW ssl_cert_file");
    db.disconnect().await;
    let file = PathBuf::from(file.expect("ssl_cert_file"));
    assert!(
        std::fs::metadata(&file).is_ok(),
        "the server's certificate {file:?} is not readable here"
    );
    file
}

fn with_host(uri: &str, host: &str) -> String {
    let mut url = url::Url::parse(uri).expect("postgres URL");
    url.set_host(Some(host)).expect("host");
    url.to_string()
}

#[tokio::test]
async fn postgres_require_encrypts_the_session_and_disable_does_not() {
    let Some(uri) = postgres_uri() else { return };
    assert!(
        pg_session_ssl(&uri, json!({"sslmode": "require"}))
            .await
            .expect("sslmode=require"),
        "sslmode=require gave an unencrypted session"
    );
    // The URI's own parameter works alike.
    let in_uri = format!(
        "{uri}{}sslmode=require",
        if uri.contains('?') { '&' } else { '?' }
    );
    assert!(
        pg_session_ssl(&in_uri, json!({}))
            .await
            .expect("?sslmode=require")
    );
    assert!(
        !pg_session_ssl(&uri, json!({"sslmode": "disable"}))
            .await
            .expect("sslmode=disable"),
        "sslmode=disable gave an encrypted session"
    );
    // The default is `prefer`, as libpq's: TLS when the server offers it.
    assert!(pg_session_ssl(&uri, json!({})).await.expect("default"));
}

#[tokio::test]
async fn postgres_verify_ca_and_verify_full_trust_the_given_root() {
    let Some(uri) = postgres_uri() else { return };
    let cert = pg_server_certificate(&uri).await;
    let root = path_str(&cert);

    assert!(
        pg_session_ssl(&uri, json!({"sslmode": "verify-ca", "sslrootcert": root}))
            .await
            .expect("verify-ca with the server's own certificate as root")
    );
    // The root as PEM text, as a service reading it from the environment has it.
    let pem = std::fs::read_to_string(&cert).expect("certificate text");
    assert!(
        pg_session_ssl(&uri, json!({"sslmode": "verify-ca", "sslrootcert": pem}))
            .await
            .expect("verify-ca with inline PEM")
    );
    // verify-full checks the name too: the certificate names `localhost`, not 127.0.0.1.
    let localhost = with_host(&uri, "localhost");
    assert!(
        pg_session_ssl(
            &localhost,
            json!({"sslmode": "verify-full", "sslrootcert": root})
        )
        .await
        .expect("verify-full by the certificate's name")
    );
    let by_ip = with_host(&uri, "127.0.0.1");
    let err = pg_session_ssl(
        &by_ip,
        json!({"sslmode": "verify-full", "sslrootcert": root}),
    )
    .await
    .expect_err("verify-full to an address the certificate does not name");
    assert_eq!(err.kind(), ErrorKind::ConnectionError, "{err}");
    assert!(err.details().contains("certificate"), "{err}");
    // The build's TLS library checked it, on either executor: the platform's (OpenSSL) with
    // `tls-native-tls`, which wins when both are on, else rustls.
    let (library, says) = if cfg!(feature = "tls-native-tls") {
        ("OpenSSL", "certificate verify failed")
    } else {
        ("rustls", "not valid for name")
    };
    assert!(
        err.details().contains(says),
        "{library} should have refused the name: {err}"
    );
}

#[tokio::test]
async fn postgres_with_another_root_fails_with_a_connection_error() {
    let Some(uri) = postgres_uri() else { return };
    if cfg!(feature = "tls-native-tls") {
        // The platform's TLS adds `sslrootcert` to the system's trusted roots instead of
        // replacing them, and this machine's system store (/etc/ssl/certs) holds the server's
        // self-signed certificate: no other root can make it fail here. The MariaDB test, with
        // a CA of its own, covers another root under native-tls.
        return;
    }
    let dir = TempDir::new("pg-other-root");
    let other = make_ca(&dir, "other-ca");
    for mode in ["verify-ca", "verify-full", "require"] {
        // `require` with a root verifies against it, as libpq does.
        let err = pg_session_ssl(
            &uri,
            json!({"sslmode": mode, "sslrootcert": path_str(&other)}),
        )
        .await
        .expect_err("a server certificate from another CA");
        assert_eq!(err.kind(), ErrorKind::ConnectionError, "{mode}: {err}");
        assert!(
            untrusted(&err),
            "{mode}: the error should say the certificate is not trusted: {err}"
        );
    }
    // Without a root, verify-ca uses the public roots, which do not know this server either.
    let err = pg_session_ssl(&uri, json!({"sslmode": "verify-ca"}))
        .await
        .expect_err("a self-signed server certificate against the public roots");
    assert_eq!(err.kind(), ErrorKind::ConnectionError, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Failures that need no server.

#[tokio::test]
async fn a_missing_certificate_file_is_a_configuration_error_naming_it() {
    for (uri, key) in [
        ("postgres://app@127.0.0.1:1/db", "sslrootcert"),
        ("mysql://app@127.0.0.1:1/db", "sslrootcert"),
        ("postgres://app@127.0.0.1:1/db", "sslkey"),
    ] {
        let mut args = json!({"sslmode": "verify-ca"});
        args[key] = json!("/nonexistent/dsg-test.pem");
        if key == "sslkey" {
            args["sslcert"] = json!("/nonexistent/dsg-test-client.pem");
        }
        let db = database(uri, args);
        let err = DatabaseOperations::new(db.clone())
            .read_query::<i64>(&text("SELECT 1"))
            .await
            .expect_err("a certificate file that does not exist");
        assert_eq!(err.kind(), ErrorKind::ConfigurationError, "{uri}: {err}");
        assert!(
            err.details().contains("connect_args.")
                && err.details().contains("/nonexistent/dsg-test"),
            "{uri}: the error should name the key and the file: {err}"
        );
        db.disconnect().await;
    }
}

#[test]
fn tls_keys_are_refused_where_they_cannot_apply() {
    for key in ["sslrootcert", "sslcert", "sslkey"] {
        let err = DBConfig::new(json!({
            "database_uri": "sqlite::memory:",
            "connect_args": {key: "/etc/ssl/certs/ca.pem"},
        }))
        .expect_err("TLS files on SQLite");
        assert_eq!(err.kind(), ErrorKind::ConfigurationError);
        assert!(
            err.details().contains(key) && err.details().contains("sqlite"),
            "{err}"
        );
    }
    let err = DBConfig::new(json!({
        "database_uri": "postgres://app@db.example/prod",
        "connect_args": {"sslcert": "/client.pem"},
    }))
    .expect_err("a client certificate without its key");
    assert!(
        err.details().contains("sslcert") && err.details().contains("sslkey"),
        "{err}"
    );
    let err = DBConfig::new(json!({
        "database_uri": "postgres://app@db.example/prod",
        "connect_args": {"sslrootcert": 42},
    }))
    .expect_err("a number as a path");
    assert!(err.details().contains("sslrootcert"), "{err}");
}

#[test]
fn an_inline_private_key_never_shows_in_debug() {
    let key = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----";
    let cert = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----";
    let config = DBConfig::new(json!({
        "database_uri": "postgres://app@db.example/prod",
        "connect_args": {"sslmode": "verify-full", "sslcert": cert, "sslkey": key},
    }))
    .expect("inline client certificate");
    let shown = format!("{config:?} {:?}", AsyncDatabase::new(config.clone()));
    assert!(!shown.contains("SECRET-KEY-MATERIAL"), "{shown}");
    assert!(shown.contains("<inline PEM>"), "{shown}");
    assert!(
        config
            .connect_args()
            .ssl_key
            .as_ref()
            .is_some_and(|k| k.is_inline())
    );
}

// ---------------------------------------------------------------------------------------------
// MariaDB: a throw-away server with a certificate from a CA made here.

/// A `mariadbd` of its own: data directory, socket and port; killed and removed on drop.
struct ThrowawayMariadb {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl ThrowawayMariadb {
    /// Starts a server whose TLS certificate (for `localhost` and 127.0.0.1) is signed by the
    /// CA `ca` in `pki`, with users `tls_only` (REQUIRE SSL) and `cert_only` (REQUIRE X509).
    fn start(pki: &TempDir, ca: &str) -> Self {
        let dir = TempDir::new("mariadb");
        let data = dir.path("data");
        let installed = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .args(["--auth-root-authentication-method=normal", "--skip-log-bin"])
            .args(["--innodb-log-file-size=4M"])
            .arg(format!("--datadir={}", path_str(&data)))
            .stdout(Stdio::null())
            .output()
            .expect("mariadb-install-db (the MariaDB server package) must be installed");
        assert!(
            installed.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&installed.stderr)
        );
        let (cert, key) = make_leaf(
            pki,
            ca,
            "mariadb-server",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let socket = dir.path("mariadb.sock");
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--skip-log-bin"])
            .args(["--bind-address=127.0.0.1", "--innodb-log-file-size=4M"])
            .arg(format!("--port={port}"))
            .arg(format!("--datadir={}", path_str(&data)))
            .arg(format!("--socket={}", path_str(&socket)))
            .arg(format!("--pid-file={}", path_str(&dir.path("mariadb.pid"))))
            .arg(format!("--log-error={}", path_str(&dir.path("error.log"))))
            .arg(format!("--ssl-cert={}", path_str(&cert)))
            .arg(format!("--ssl-key={}", path_str(&key)))
            .arg(format!(
                "--ssl-ca={}",
                path_str(&pki.path(&format!("{ca}.pem")))
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let mut server = ThrowawayMariadb { child, dir, port };
        server.wait_ready(&socket);
        server.sql(
            &socket,
            "CREATE DATABASE test; \
             CREATE USER 'tls_only'@'%' REQUIRE SSL; \
             GRANT ALL ON test.* TO 'tls_only'@'%'; \
             CREATE USER 'cert_only'@'%' REQUIRE X509; \
             GRANT ALL ON test.* TO 'cert_only'@'%';",
        );
        server
    }

    fn wait_ready(&mut self, socket: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path("error.log")).unwrap_or_default();
                panic!("mariadbd exited ({status}): {log}");
            }
            let ping = Command::new("mariadb-admin")
                .args(["--no-defaults", "-u", "root", "ping"])
                .arg(format!("--socket={}", path_str(socket)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if ping.is_ok_and(|s| s.success()) {
                return;
            }
            assert!(Instant::now() < deadline, "mariadbd did not start in 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sql(&self, socket: &Path, sql: &str) {
        run(Command::new("mariadb")
            .args(["--no-defaults", "-u", "root", "-e", sql])
            .arg(format!("--socket={}", path_str(socket))));
    }

    fn uri(&self, user: &str, host: &str) -> String {
        format!("mysql://{user}@{host}:{}/test", self.port)
    }
}

impl Drop for ThrowawayMariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session's TLS cipher (`SHOW STATUS LIKE 'Ssl_cipher'`), empty when unencrypted.
async fn ssl_cipher(uri: &str, connect_args: Value) -> Result<String, dsg_lib::DatabaseError> {
    let rows = query_pairs(uri, connect_args, "SHOW STATUS LIKE 'Ssl_cipher'").await?;
    Ok(rows.into_iter().next().map(|(_, v)| v).unwrap_or_default())
}

#[tokio::test]
async fn mariadb_over_tls_with_server_and_client_certificates() {
    if !common::backends().iter().any(|b| b.name == "mysql") {
        return;
    }
    let started = Instant::now();
    let pki = TempDir::new("mariadb-pki");
    let ca = make_ca(&pki, "test-ca");
    let other = make_ca(&pki, "other-ca");
    let (client_cert, client_key) = make_leaf(
        &pki,
        "test-ca",
        "cert_only",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    let server = ThrowawayMariadb::start(&pki, "test-ca");
    let root = server.uri("root", "127.0.0.1");
    let ca = path_str(&ca);

    // require: encrypted; disable: not.
    let cipher = ssl_cipher(&root, json!({"sslmode": "require"}))
        .await
        .expect("sslmode=require");
    assert!(!cipher.is_empty(), "sslmode=require gave no cipher");
    let plain = ssl_cipher(&root, json!({"sslmode": "disable"}))
        .await
        .expect("sslmode=disable");
    assert!(plain.is_empty(), "sslmode=disable gave cipher {plain}");

    // verify-ca / verify-full with the CA; verify-full by name and by address (both in the
    // certificate).
    for (mode, uri) in [
        ("verify-ca", root.clone()),
        ("verify-full", server.uri("root", "localhost")),
        ("verify-full", root.clone()),
    ] {
        let cipher = ssl_cipher(&uri, json!({"sslmode": mode, "sslrootcert": ca}))
            .await
            .unwrap_or_else(|e| panic!("{mode} {uri}: {e}"));
        assert!(!cipher.is_empty(), "{mode}: no cipher");
    }

    // Another root: refused, clearly.
    for mode in ["verify-ca", "require"] {
        let err = ssl_cipher(
            &root,
            json!({"sslmode": mode, "sslrootcert": path_str(&other)}),
        )
        .await
        .expect_err("a server certificate from another CA");
        assert_eq!(err.kind(), ErrorKind::ConnectionError, "{mode}: {err}");
        assert!(untrusted(&err), "{mode}: {err}");
    }

    // A user the server admits over TLS only.
    let tls_only = server.uri("tls_only", "127.0.0.1");
    let err = ssl_cipher(&tls_only, json!({"sslmode": "disable"}))
        .await
        .expect_err("a REQUIRE SSL user without TLS");
    assert_eq!(err.kind(), ErrorKind::ConnectionError, "{err}");
    assert!(
        !ssl_cipher(
            &tls_only,
            json!({"sslmode": "verify-ca", "sslrootcert": ca})
        )
        .await
        .expect("a REQUIRE SSL user over TLS")
        .is_empty()
    );

    // A user the server admits with a client certificate only: as files and as PEM text.
    let cert_only = server.uri("cert_only", "127.0.0.1");
    let err = ssl_cipher(
        &cert_only,
        json!({"sslmode": "verify-ca", "sslrootcert": ca}),
    )
    .await
    .expect_err("a REQUIRE X509 user without a client certificate");
    assert_eq!(err.kind(), ErrorKind::ConnectionError, "{err}");
    let with_files = json!({
        "sslmode": "verify-ca", "sslrootcert": ca,
        "sslcert": path_str(&client_cert), "sslkey": path_str(&client_key),
    });
    assert!(
        !ssl_cipher(&cert_only, with_files)
            .await
            .expect("client certificate files")
            .is_empty()
    );
    let read = |p: &Path| std::fs::read_to_string(p).expect("PEM");
    let with_pem = json!({
        "sslmode": "verify-ca", "sslrootcert": read(Path::new(ca)),
        "sslcert": read(&client_cert), "sslkey": read(&client_key),
    });
    assert!(
        !ssl_cipher(&cert_only, with_pem)
            .await
            .expect("client certificate as PEM text")
            .is_empty()
    );

    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the MariaDB TLS test took {:?}",
        started.elapsed()
    );
}
