//! A fake OpenAI-compatible model server on loopback that measures its own time.
//!
//! The voice bench subtracts the model's time from each turn to get what frontdesk adds on
//! top of it (#9). A fixed figure (the delay asked of a mock server) is not the model's
//! real time: a timer fires late by up to a tick, and a general-purpose mock (wiremock)
//! parses, matches and records the request on the same cores, all counted against
//! frontdesk. This server is as small as it can be, runs on its own thread with its own
//! runtime, and notes per request the time from having the whole request to writing the
//! answer (all of it in one write): that is the model's time, and only that is subtracted.
//!
//! It speaks HTTP/1.1 with keep-alive (as reqwest's pool expects) and answers every
//! `POST /v1/chat/completions` that asks for a stream with a real Chat Completions stream
//! (chunked `text/event-stream`: the role chunk, two content chunks, the finish chunk, the
//! usage chunk, `[DONE]`) after `delay`. Anything else gets a 400 and is noted as refused.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The answer's text, as the caller hears it.
pub const ANSWER: &str = "We are open on weekdays from eight to six.";

/// One request as the fake saw it: the model's own time, or `None` when it was refused.
pub type Served = Option<Duration>;

/// A running fake model. Its thread ends with the process.
pub struct FakeModel {
    /// e.g. `http://127.0.0.1:40123`
    pub base_url: String,
    served: Arc<Mutex<Vec<Served>>>,
}

impl FakeModel {
    /// Starts the server on its own thread; each answer is written `delay` after the whole
    /// request was read.
    pub fn start(delay: Duration) -> FakeModel {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(Vec::new()));
        let noted = served.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let answer: Arc<[u8]> = stream_answer().into();
                loop {
                    let (sock, _) = listener.accept().await.unwrap();
                    let (noted, answer) = (noted.clone(), answer.clone());
                    tokio::spawn(async move {
                        // A connection the client closed ends here; nothing to report.
                        let _ = serve(sock, delay, &answer, &noted).await;
                    });
                }
            });
        });
        FakeModel { base_url, served }
    }

    /// The requests seen since the last call, oldest first. Waits up to a second for the
    /// first one: the fake notes a request just after writing its answer's last byte, which
    /// the caller may already be reading.
    pub fn take(&self) -> Vec<Served> {
        let until = Instant::now() + Duration::from_secs(1);
        loop {
            let seen = std::mem::take(&mut *self.served.lock().unwrap());
            if !seen.is_empty() || Instant::now() > until {
                return seen;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// The whole HTTP answer: head and the chunked event stream.
fn stream_answer() -> Vec<u8> {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "created": 1741569952, "model": "qwen2.5:7b",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let (first, rest) = ANSWER.split_at(ANSWER.find(" from").unwrap());
    let events = [
        chunk(
            serde_json::json!({"role": "assistant", "content": ""}),
            None,
        ),
        chunk(serde_json::json!({ "content": first }), None),
        chunk(serde_json::json!({ "content": rest }), None),
        chunk(serde_json::json!({}), Some("stop")),
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "created": 1741569952, "model": "qwen2.5:7b", "choices": [],
            "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}}),
    ];
    let mut out =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
                    transfer-encoding: chunked\r\n\r\n"
            .to_vec();
    let mut sse: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    sse.push("data: [DONE]\n\n".into());
    for event in sse {
        out.extend_from_slice(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes());
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The answer to a request that is not a streamed chat completion with messages and tools.
fn refused() -> Vec<u8> {
    let body =
        r#"{"error":{"message":"not a streamed chat completion","type":"invalid_request_error"}}"#;
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers the requests of one connection in turn until the client closes it.
async fn serve(
    mut sock: TcpStream,
    delay: Duration,
    answer: &[u8],
    noted: &Mutex<Vec<Served>>,
) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if sock.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if sock.read_buf(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        // The whole request is here: the model's time starts.
        let t0 = Instant::now();
        super::steps::note("fake model has the request", t0);
        let body = &buf[head_end..head_end + length];
        let ok = head.starts_with("post /v1/chat/completions ")
            && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
                v["stream"] == true
                    && v["messages"].as_array().is_some_and(|m| !m.is_empty())
                    && v["tools"].as_array().is_some_and(|t| !t.is_empty())
            });
        buf.drain(..head_end + length);
        if !ok {
            sock.write_all(&refused()).await?;
            noted.lock().unwrap().push(None);
            continue;
        }
        tokio::time::sleep_until((t0 + delay).into()).await;
        // Stamped just before the one write that hands the whole answer to the kernel: no
        // byte can reach the client earlier, so the model's time is never overstated (a
        // stamp after the write can land late when this thread is preempted on a busy
        // machine, and would then hide frontdesk's own time).
        let model_time = t0.elapsed();
        super::steps::note("fake model answers", Instant::now());
        sock.write_all(answer).await?;
        sock.flush().await?;
        noted.lock().unwrap().push(Some(model_time));
    }
}
