//! A Firehose HTTP endpoint for tests: answers POSTs the way AWS's HTTP-endpoint protocol
//! requires (200 with the echoed `requestId`), and keeps every request it accepted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;

/// One accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `X-Amz-Firehose-Request-Id`.
    pub(crate) request_id: String,
    /// The records' data, decoded.
    pub(crate) records: Vec<String>,
    /// `X-Amz-Firehose-Access-Key`, if sent.
    pub(crate) access_key: Option<String>,
}

/// A running endpoint.
pub(crate) struct Endpoint {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A free local port (bound then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Endpoint {
    /// Listens on `port`, keeping accepted requests in `requests`.
    pub(crate) fn start(port: u16, requests: &Arc<Mutex<Vec<Request>>>) -> Endpoint {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, r) = (Arc::clone(&stop), Arc::clone(requests));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Acquire) {
                    return;
                }
                if let Ok(c) = conn {
                    let _ = serve(c, &r);
                }
            }
        });
        Endpoint {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL to configure.
    pub(crate) fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/firehose")
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, requests: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    if line.is_empty() {
        return Ok(());
    }
    let mut len = 0;
    let mut request_id = String::new();
    let mut access_key = None;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "x-amz-firehose-request-id" => request_id = v.trim().to_owned(),
            "x-amz-firehose-access-key" => access_key = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc["requestId"],
        request_id.as_str(),
        "body and header agree"
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let records = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rec| String::from_utf8(b64.decode(rec["data"].as_str().unwrap()).unwrap()).unwrap())
        .collect();
    requests.lock().unwrap().push(Request {
        request_id: request_id.clone(),
        records,
        access_key,
    });
    let reply = format!("{{\"requestId\":\"{request_id}\",\"timestamp\":1}}");
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    w.flush()
}
