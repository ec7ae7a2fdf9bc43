//! A small W3C WebDriver client for the GUI tests (tauri-driver in front of WebKitWebDriver):
//! only the commands the tests use. fantoccini would bring a second http/ICU/cookie stack
//! through the `webdriver` crate; this subset is a few JSON requests.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct WebDriver {
    base: String,
    session: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl WebDriver {
    /// A new session: `capabilities` go in `alwaysMatch` (e.g. `tauri:options`).
    pub async fn new_session(base: &str, capabilities: Value) -> Result<Self> {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mut driver = Self {
            base: base.trim_end_matches('/').to_owned(),
            session: String::new(),
            client,
        };
        let value = driver
            .raw(
                "POST",
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": capabilities}})),
            )
            .await?;
        driver.session = value["sessionId"]
            .as_str()
            .ok_or("no sessionId in the answer")?
            .to_owned();
        Ok(driver)
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let mut answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{method} {path}: {e}: {}", String::from_utf8_lossy(&bytes)))?;
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: {status}: {} {}",
                answer["value"]["error"], answer["value"]["message"]
            )
            .into());
        }
        Ok(answer["value"].take())
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// The first element matching the CSS selector, if any.
    pub async fn find(&self, css: &str) -> Result<Option<Element>> {
        match self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
        {
            Ok(v) => Ok(v[ELEMENT].as_str().map(|id| Element(id.to_owned()))),
            Err(e) if e.to_string().contains("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
            .collect())
    }

    /// Poll until `css` matches, up to `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find(css).await? {
                return Ok(e);
            }
            if Instant::now() >= deadline {
                return Err(
                    format!("nothing matched {css:?} within {}s", timeout.as_secs()).into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn click(&self, e: &Element) -> Result<()> {
        self.call("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .await
            .map(drop)
    }

    pub async fn clear(&self, e: &Element) -> Result<()> {
        self.call("POST", &format!("/element/{}/clear", e.0), Some(json!({})))
            .await
            .map(drop)
    }

    pub async fn type_text(&self, e: &Element, text: &str) -> Result<()> {
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await
        .map(drop)
    }

    pub async fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .call("GET", &format!("/element/{}/text", e.0), None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>> {
        Ok(self
            .call("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .await?
            .as_str()
            .map(str::to_owned))
    }

    pub async fn enabled(&self, e: &Element) -> Result<bool> {
        Ok(self
            .call("GET", &format!("/element/{}/enabled", e.0), None)
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// Run `script` (a function body; `arguments` holds `args`) and return its value.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The window as PNG.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None).await?;
        Ok(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())?)
    }

    /// End the session (the app is closed).
    pub async fn quit(&self) -> Result<()> {
        self.call("DELETE", "", None).await.map(drop)
    }
}
