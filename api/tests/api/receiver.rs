//! A real webhook receiver for the tests: `tools/webhook_receiver.py`, which verifies every delivery with
//! the `standardwebhooks` package from PyPI and logs what it got to a file that survives a kill.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Receiver {
    pub port: u16,
    secrets: Vec<String>,
    log: PathBuf,
    process: Option<Child>,
}

/// A free loopback port for a receiver that starts later (its URL is needed to create the endpoint that
/// makes its secret).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("free port").port()
}

impl Receiver {
    /// Starts a receiver on `port` that accepts deliveries signed with any of `secrets`.
    pub fn start(port: u16, secrets: &[&str]) -> Self {
        let log = std::env::temp_dir().join(format!("vigil-receiver-{}.jsonl", uuid::Uuid::new_v4().simple()));
        let mut receiver =
            Self { port, secrets: secrets.iter().map(|s| (*s).to_owned()).collect(), log, process: None };
        receiver.restart();
        receiver
    }

    /// Starts the process again (after a kill), on the same port and log.
    pub fn restart(&mut self) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut command = Command::new(crate::helpers::tools_python());
        command.arg(root.join("tools/webhook_receiver.py")).args(["--port", &self.port.to_string()]);
        command.arg("--log").arg(&self.log);
        for secret in &self.secrets {
            command.args(["--secret", secret]);
        }
        let process = command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("start the receiver");
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the receiver did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: whatever it was doing, it stops, and the port refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().expect("kill the receiver");
            process.wait().expect("reap the receiver");
        }
    }

    /// Changes how it answers: {"status": 503, "retry_after": "2", "delay_secs": 0.5}.
    pub async fn answer(&self, settings: Value) {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/_config", self.port))
            .json(&settings)
            .send()
            .await
            .expect("configure the receiver");
        assert_eq!(response.status(), 204);
    }

    /// Every delivery it has logged, in order.
    pub fn deliveries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a logged delivery"))
            .collect()
    }

    /// The deliveries it accepted (verified, answered 2xx).
    pub fn accepted(&self) -> Vec<Value> {
        self.deliveries()
            .into_iter()
            .filter(|d| d["verified"] == true && d["status"].as_u64().is_some_and(|s| (200..300).contains(&s)))
            .collect()
    }

    /// Waits until `done` holds of the log, or fails after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}; the receiver logged {deliveries:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
