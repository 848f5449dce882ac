//! A real headless Chromium, driven over WebDriver (Debian's `chromium` and `chromium-driver`).
//!
//! [`Browser::start`] runs `chromedriver` on a free loopback port and opens one session of
//! headless Chromium with a fresh profile and no network beyond loopback. Every call is
//! bounded by a timeout; dropping the browser ends the session and the driver.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// Why the browser could not be used.
pub type Error = String;

/// Where the Chromium binary and its driver are, if installed.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(n))
                    .find(|p| p.is_file())
            })
        })
    };
    Some((
        find(&["chromium", "chromium-browser"])?,
        find(&["chromedriver"])?,
    ))
}

/// One headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile_dir::Dir,
}

/// The flags Chromium runs with: headless, sandbox off (containers), nothing that calls home.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

impl Browser {
    /// Starts chromedriver and a session with a window of `width` × `height` CSS pixels.
    pub fn start(
        chromium: &Path,
        chromedriver: &Path,
        width: u32,
        height: u32,
    ) -> Result<Self, Error> {
        let port = crate::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", chromedriver.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let profile = tempfile_dir::Dir::new()?;
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = browser
                .agent
                .get(format!("{}/status", browser.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready within 15 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        args.push(format!("--window-size={width},{height}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let answer = browser.post("/session", &caps)?;
        browser.session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session in {answer}"))?
            .to_owned();
        Ok(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let response = match body {
            Some(b) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.to_string()),
            None if method == "DELETE" => self.agent.delete(&url).call(),
            None => self.agent.get(&url).call(),
        };
        let mut response = response.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let doc: Value = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| format!("{method} {path}: unreadable answer: {e}"))?;
        if status >= 400 {
            return Err(format!("{method} {path}: {status} {}", doc["value"]));
        }
        Ok(doc["value"].clone())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, Error> {
        self.call("POST", path, Some(body))
    }

    /// Opens `url` and waits for the document to load.
    pub fn goto(&self, url: &str) -> Result<(), Error> {
        self.post("/url", &json!({"url": url})).map(|_| ())
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn eval(&self, script: &str) -> Result<Value, Error> {
        self.post("/execute/sync", &json!({"script": script, "args": []}))
    }

    /// Evaluates `script` every 100 ms until it returns `true`, for at most `limit`.
    pub fn wait_for(&self, what: &str, script: &str, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            if self.eval(script)? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: not within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` into the element matching the CSS `selector`.
    pub fn type_into(&self, selector: &str, text: &str) -> Result<(), Error> {
        let id = self.element(selector)?;
        self.post(&format!("/element/{id}/value"), &json!({"text": text}))
            .map(|_| ())
    }

    /// Clicks the element matching the CSS `selector`.
    pub fn click(&self, selector: &str) -> Result<(), Error> {
        let id = self.element(selector)?;
        self.post(&format!("/element/{id}/click"), &json!({}))
            .map(|_| ())
    }

    fn element(&self, selector: &str) -> Result<String, Error> {
        let found = self.post(
            "/element",
            &json!({"using": "css selector", "value": selector}),
        )?;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {selector}"))
    }

    /// The browser console's entries since the last call (each `{level, message, source}`).
    pub fn console(&self) -> Result<Vec<Value>, Error> {
        let v = self.post("/se/log", &json!({"type": "browser"}))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let v = self.call("GET", "/screenshot", None)?;
        let text = v.as_str().ok_or("no screenshot data")?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", "", None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A temporary directory removed on drop (the browser profile).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Result<Self, String> {
            let path = std::env::temp_dir().join(crate::unique("vitals-chromium"));
            std::fs::create_dir_all(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            Ok(Self(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
