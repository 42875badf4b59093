#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end, through public interfaces only (the `vane` binary, HTTP): `vane up` on ports it
//! picks itself (`127.0.0.1:0`, read back from `addresses.json`) in a temporary directory; the printed `curl` examples work; an editor (created by
//! the admin through the API) creates and starts an experiment; sync delivers it and the edge
//! assigns it; `vane demo traffic` sends users with a known true lift; the platform is
//! stopped with SIGINT and started again (nothing accepted is lost, nothing is created twice);
//! analytics computes; core-api's results API shows every exposed unit, the lift's direction
//! and no sample ratio mismatch; the editor stops the experiment and the edge stops assigning
//! it.
//!
//! Every wait is a bounded poll that fails with what it last saw; nothing asserts on time.
//! The experiment's salt and the simulation's seed are fixed, so assignments and conversions,
//! and with them the SRM check and the lift, are the same on every run.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const VANE: &str = env!("CARGO_BIN_EXE_vane");
const ADMIN_EMAIL: &str = "admin@e2e.example";
const ADMIN_PASSWORD: &str = "e2e admin password, long enough";
const EDITOR_EMAIL: &str = "editor@e2e.example";
const EDITOR_PASSWORD: &str = "e2e editor password, long enough";
const EXPERIMENT: &str = "e2e-cta";

/// Where a running `vane up` listens, as it wrote to `<data-dir>/addresses.json`.
#[derive(Debug, Clone, serde::Deserialize)]
struct Addresses {
    core: String,
    edge: String,
}

/// Every part on a port of its own choosing: nothing is reserved and released first, so no
/// other loopback traffic can take a port between the test's choice and `vane up`'s bind.
const ANY_PORT: &str = "127.0.0.1:0";

/// A running `vane up` with its output collected line by line.
struct Platform {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Platform {
    fn start(dir: &Path, edge_listen: &str) -> Self {
        let mut child = Command::new(VANE)
            .arg("up")
            .arg("--data-dir")
            .arg(dir)
            .args(["--core-listen", ANY_PORT])
            .args(["--edge-listen", edge_listen])
            .args(["--analytics-listen", ANY_PORT])
            .args(["--sync-listen", ANY_PORT])
            .args(["--results-interval-secs", "2"])
            .env("VANE_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("VANE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting vane up");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let lines = stdout.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let text = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stdout,
            stderr,
        }
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits for the ready banner and returns the addresses `vane up` bound.
    async fn wait_ready(&mut self, dir: &Path) -> Addresses {
        self.wait_banner().await;
        let file = dir.join("addresses.json");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{} after the banner: {e}", file.display()));
        let addresses: Addresses = serde_json::from_str(&text).unwrap();
        let lines = self.stdout_lines();
        for url in [&addresses.core, &addresses.edge] {
            assert!(
                lines.iter().any(|l| l.contains(url.as_str())),
                "{url} from addresses.json is not in the banner\n{}",
                self.output()
            );
        }
        addresses
    }

    /// Waits for the ready banner (and the examples after it) to be printed.
    async fn wait_banner(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("Simulate"))
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "vane up exited with {status} before it was ready\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "vane up was not ready after 180 s\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` and waits for the process to exit.
    async fn stop(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vane up did not exit within 90 s of SIG{signal}\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A bearer-token JSON client.
#[derive(Clone)]
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn login(base: &str, email: &str, password: &str) -> Self {
        let (status, body, _) = Api::new(base, "")
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                Some(json!({"email": email, "password": password})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        Api::new(base, body["token"].as_str().unwrap())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, etag)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value, Option<String>) {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value, Option<String>) {
        self.send(reqwest::Method::POST, path, Some(body), None)
            .await
    }
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `limit`; fails with the last
/// thing it saw.
async fn poll<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {limit:?}; last seen: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn assign(edge: &str, key: &str, user: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{edge}/v1/assign"))
        .bearer_auth(key)
        .json(&json!({"context": {"user_id": user}, "experiments": [EXPERIMENT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["assignments"][0].clone()
}

/// The value after `label` on the banner line that starts with it (`client key vane_...`).
fn printed(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{label}` line in the banner:\n{}", lines.join("\n")))
        .to_owned()
}

fn examples(lines: &[String]) -> String {
    let start = lines
        .iter()
        .position(|l| l.starts_with("# --- try it"))
        .expect("the banner has an examples block");
    let end = lines
        .iter()
        .position(|l| l.starts_with("# --- end ---"))
        .expect("the examples block ends");
    lines[start..=end].join("\n")
}

fn run_traffic(edge: &str, key: &str, data_dir: &Path) -> Value {
    let output = Command::new(VANE)
        .args([
            "demo",
            "traffic",
            "--users",
            "3000",
            "--lift",
            "0.5",
            "--base-rate",
            "0.2",
        ])
        .args(["--edge", edge, "--key", key, "--experiment", EXPERIMENT])
        .args(["--seed", "20261124", "--max-seconds", "600", "--json"])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vane demo traffic failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn metric<'a>(results: &'a Value, key: &str) -> &'a Value {
    results["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == key)
        .unwrap_or_else(|| panic!("no metric {key} in {results}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_runs_an_experiment_through_the_whole_platform_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = dir.path().join("vane");

    // `vane up` starts everything and prints examples that work as printed.
    let mut platform = Platform::start(&data_dir, ANY_PORT);
    let Addresses { core, edge } = platform.wait_ready(&data_dir).await;
    let lines = platform.stdout_lines();
    let client_key = printed(&lines, "client key ");
    assert!(client_key.starts_with("vane_client_"), "{client_key}");
    let tried = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &examples(&lines)])
        .output()
        .unwrap();
    let tried_out = String::from_utf8_lossy(&tried.stdout);
    assert!(
        tried.status.success(),
        "the printed examples failed: {tried_out}"
    );
    assert!(
        tried_out.contains(r#""experiment":"checkout-cta","in_experiment":true"#),
        "the printed assign example did not assign: {tried_out}"
    );
    assert!(
        tried_out.contains(r#""key":"max-cart-items","value":50"#),
        "the printed evaluate example did not apply the pro rule: {tried_out}"
    );
    assert!(
        tried_out.contains(r#"{"accepted":2,"rejected":[]}"#),
        "the printed events example was not accepted: {tried_out}"
    );
    assert!(
        tried_out.contains(r#""experiment":"checkout-cta""#) && tried_out.contains(r#""srm""#),
        "the printed results examples did not answer results: {tried_out}"
    );

    // The admin creates an editor; the editor may not manage keys.
    let admin = Api::login(&core, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body, _) = admin
        .post(
            "/api/v1/users",
            json!({"email": EDITOR_EMAIL, "name": "E2E editor", "role": "editor",
                   "password": EDITOR_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "creating the editor: {body}");
    let editor = Api::login(&core, EDITOR_EMAIL, EDITOR_PASSWORD).await;
    let (status, _, _) = editor
        .post(
            "/api/v1/environments/demo/api-keys",
            json!({"kind": "client"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an editor must not create keys"
    );

    // The editor defines two metrics and an experiment, and starts it.
    for metric in [
        json!({"key": "e2e-conversion", "event_name": "purchase", "type": "conversion"}),
        json!({"key": "e2e-revenue", "event_name": "purchase", "type": "sum"}),
    ] {
        let (status, body, _) = editor.post("/api/v1/metrics", metric).await;
        assert_eq!(status, StatusCode::CREATED, "creating a metric: {body}");
    }
    let (status, body, etag) = editor
        .post(
            "/api/v1/experiments",
            json!({"key": EXPERIMENT, "environment": "demo", "name": "E2E call to action", "salt": "e2e-fixed-salt",
                   "variants": [{"key": "control", "weight": 0.5},
                                {"key": "treatment", "weight": 0.5}],
                   "metrics": {"primary": ["e2e-conversion"], "secondary": ["e2e-revenue"]}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "creating the experiment: {body}"
    );
    let (status, body, _) = editor
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/experiments/{EXPERIMENT}/start"),
            None,
            etag.as_deref(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "starting the experiment: {body}");
    assert_eq!(body["status"], "running");

    // sync delivers it and the edge assigns it.
    let first = poll(
        "the edge to assign the new experiment",
        Duration::from_secs(60),
        || {
            let (edge, key) = (edge.clone(), client_key.clone());
            async move {
                let a = assign(&edge, &key, "probe-user").await;
                if a["in_experiment"] == true {
                    Ok(a)
                } else {
                    Err(a.to_string())
                }
            }
        },
    )
    .await;
    assert!(["control", "treatment"].contains(&first["variant"].as_str().unwrap()));

    // analytics knows the experiment (it reads experiments and metrics from core-api).
    poll(
        "analytics to know the experiment",
        Duration::from_secs(120),
        || {
            let editor = editor.clone();
            async move {
                let (status, body, _) = editor
                    .get(&format!("/api/v1/experiments/{EXPERIMENT}/results"))
                    .await;
                if status == StatusCode::OK {
                    Ok(())
                } else {
                    Err(format!("{status} {body}"))
                }
            }
        },
    )
    .await;

    // Users with a known true lift of +50% over a 20% conversion rate.
    let summary = run_traffic(&edge, &client_key, &data_dir);
    assert_eq!(summary["users"], 3000, "{summary}");
    assert_eq!(
        summary["in_experiment"], 3000,
        "coverage is 100%: {summary}"
    );
    let sent = summary["variants"].as_array().unwrap().clone();
    assert_eq!(sent.len(), 2, "{summary}");

    // Stop and start again: a clean stop, nothing created twice, nothing accepted lost.
    let status = platform.stop("INT").await;
    assert!(
        status.success(),
        "vane up exited with {status}\n{}",
        platform.output()
    );
    assert!(
        platform
            .stdout_lines()
            .iter()
            .any(|l| l.contains("stopped cleanly")),
        "{}",
        platform.output()
    );
    let mut platform = Platform::start(&data_dir, ANY_PORT);
    let Addresses { core, edge } = platform.wait_ready(&data_dir).await;
    let lines = platform.stdout_lines();
    assert!(
        lines.iter().any(|l| l.contains("nothing created")),
        "a restart created something:\n{}",
        lines.join("\n")
    );
    assert_eq!(
        printed(&lines, "client key "),
        client_key,
        "the client key changed"
    );
    let admin = Api::login(&core, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let editor = Api::login(&core, EDITOR_EMAIL, EDITOR_PASSWORD).await;
    let (_, keys, _) = admin.get("/api/v1/environments/demo/api-keys").await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 4, "{keys}");
    let (_, experiments, _) = admin.get("/api/v1/experiments").await;
    assert_eq!(
        experiments["items"].as_array().unwrap().len(),
        2,
        "{experiments}"
    );

    // analytics computes: every exposed unit counted, the lift's direction, no SRM.
    let expected_units: u64 = sent.iter().map(|v| v["exposed"].as_u64().unwrap()).sum();
    let results = poll(
        "analytics to count every exposed unit",
        Duration::from_secs(180),
        || {
            let editor = editor.clone();
            async move {
                let path = format!("/api/v1/experiments/{EXPERIMENT}/results");
                let (status, body, _) = editor.send(reqwest::Method::POST, &path, None, None).await;
                let units: u64 = body["results"]["units"]
                    .as_array()
                    .map_or(0, |u| u.iter().filter_map(Value::as_u64).sum());
                if status == StatusCode::OK && units == expected_units {
                    Ok(body["results"].clone())
                } else {
                    Err(format!(
                        "{status}, {units} of {expected_units} units: {body}"
                    ))
                }
            }
        },
    )
    .await;
    let variants: Vec<&str> = results["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(variants, ["control", "treatment"], "{results}");
    for (i, v) in sent.iter().enumerate() {
        assert_eq!(v["key"], variants[i], "{summary}");
        assert_eq!(
            results["units"][i], v["exposed"],
            "units of {}: {results}",
            variants[i]
        );
    }
    assert_eq!(results["srm"]["mismatch"], false, "{results}");
    assert!(
        results["srm"]["p_value"].as_f64().unwrap() >= 0.001,
        "{results}"
    );
    let conversion = metric(&results, "e2e-conversion");
    for (i, v) in sent.iter().enumerate() {
        let rate = v["converted"].as_f64().unwrap() / v["exposed"].as_f64().unwrap();
        let mean = conversion["variants"][i]["mean"].as_f64().unwrap();
        assert!(
            (mean - rate).abs() < 1e-9,
            "conversion of {}: {mean} vs {rate}",
            variants[i]
        );
    }
    let lift = &conversion["variants"][1]["relative"];
    assert!(
        lift["expected"].as_f64().unwrap() > 0.0,
        "the lift is not positive: {lift}"
    );
    assert!(
        lift["p_value"].as_f64().unwrap() < 0.05,
        "+50% at n=3000 is significant: {lift}"
    );
    let revenue = metric(&results, "e2e-revenue");
    for (i, v) in sent.iter().enumerate() {
        let per_user = v["revenue"].as_f64().unwrap() / v["exposed"].as_f64().unwrap();
        let mean = revenue["variants"][i]["mean"].as_f64().unwrap();
        assert!(
            (mean - per_user).abs() < 1e-6,
            "revenue of {}: {mean} vs {per_user}",
            variants[i]
        );
    }

    // The editor stops the experiment; once propagated the edge no longer assigns it.
    let (_, _, etag) = editor
        .get(&format!("/api/v1/experiments/{EXPERIMENT}"))
        .await;
    let (status, body, _) = editor
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/experiments/{EXPERIMENT}/stop"),
            None,
            etag.as_deref(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "stopping: {body}");
    assert_eq!(body["status"], "stopped");
    let stopped = poll(
        "the edge to stop assigning",
        Duration::from_secs(60),
        || {
            let (edge, key) = (edge.clone(), client_key.clone());
            async move {
                let a = assign(&edge, &key, "probe-user").await;
                if a["in_experiment"] == false {
                    Ok(a)
                } else {
                    Err(a.to_string())
                }
            }
        },
    )
    .await;
    assert_eq!(stopped["reason"]["kind"], "not_running", "{stopped}");
    assert_eq!(stopped["reason"]["status"], "stopped", "{stopped}");

    let status = platform.stop("TERM").await;
    assert!(
        status.success(),
        "vane up exited with {status}\n{}",
        platform.output()
    );
}

#[tokio::test]
async fn vane_up_stops_with_an_error_naming_an_address_in_use() {
    let dir = tempfile::tempdir().unwrap();
    // The test holds the edge's port for the whole run, so nobody else can have it either.
    let taken = std::net::TcpListener::bind(ANY_PORT).unwrap();
    let edge_port = taken.local_addr().unwrap().port();
    let mut platform = Platform::start(dir.path(), &format!("127.0.0.1:{edge_port}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = platform.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "vane up kept running with its edge port taken\n{}",
            platform.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(taken);
    assert!(!status.success(), "{}", platform.output());
    // The reader threads may lag the exit by a moment.
    let bind_error = format!("binding 127.0.0.1:{edge_port} (--edge-listen)");
    let reported = poll("the error on stderr", Duration::from_secs(10), || {
        let text = platform.stderr.lock().unwrap().clone();
        let found = text.contains(&bind_error);
        async move { if found { Ok(()) } else { Err(text) } }
    });
    reported.await;
    // Every address is bound before any part starts: none started, none left running, and no
    // addresses file names ports that nobody serves.
    assert!(
        !platform
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("==> core-api on")),
        "a part started although an address was taken:\n{}",
        platform.output()
    );
    assert!(!dir.path().join("addresses.json").exists());
}
