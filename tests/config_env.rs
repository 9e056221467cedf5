//! `DBConfig::from_env` on the real process environment. The environment is process-wide, so
//! the test runs itself again as a child process with the variables set, instead of changing
//! the environment of the running tests.

use std::process::Command;

use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect};

const CHILD: &str = "DSG_CONFIG_ENV_CHILD";

#[test]
fn from_env_reads_database_url_and_dsg_db_variables() {
    if let Ok(case) = std::env::var(CHILD) {
        return child(&case);
    }
    let run = |case: &str, vars: &[(&str, &str)]| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "from_env_reads_database_url_and_dsg_db_variables",
                "--nocapture",
            ])
            .env(CHILD, case)
            .env_remove("DATABASE_URL");
        for (name, _) in std::env::vars() {
            if name.starts_with("DSG_DB_") {
                command.env_remove(name);
            }
        }
        command.envs(vars.iter().copied());
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("1 passed"),
            "{case}: the child ran the test: {stdout}"
        );
        assert!(
            output.status.success(),
            "{case}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        "postgres",
        &[
            (
                "DATABASE_URL",
                "postgresql+asyncpg://app:s3cret@db:5432/app",
            ),
            ("DSG_DB_POOL_SIZE", "12"),
            ("DSG_DB_ECHO", "true"),
            ("DSG_DB_CONNECT_ARGS", r#"{"timeout": 3}"#),
        ],
    );
    run(
        "sqlite-pool-size",
        &[
            ("DATABASE_URL", "sqlite:///:memory:"),
            ("DSG_DB_POOL_SIZE", "10"),
        ],
    );
    run("missing", &[("DSG_DB_ECHO", "true")]);
}

fn child(case: &str) {
    let result = DBConfig::from_env();
    match case {
        "postgres" => {
            let config = result.unwrap();
            assert_eq!(config.dialect(), Dialect::Postgresql);
            assert_eq!(config.pool_size(), 12);
            assert!(config.echo());
            assert_eq!(
                config.connect_args().timeout,
                Some(std::time::Duration::from_secs(3))
            );
            assert!(!format!("{config:?} {config}").contains("s3cret"));
        }
        "sqlite-pool-size" => {
            let details = result.unwrap_err().details().to_string();
            assert!(
                details
                    .starts_with("unsupported settings for sqlite: DSG_DB_POOL_SIZE (pool_size)"),
                "{details}"
            );
        }
        "missing" => {
            let details = result.unwrap_err().details().to_string();
            assert!(details.starts_with("DATABASE_URL is not set"), "{details}");
        }
        other => panic!("unknown case {other}"),
    }
}
