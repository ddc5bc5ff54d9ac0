//! A small blocking HTTP/1.1 client for RFC 3161 time-stamping authorities (RFC 3161 §3.4): one
//! POST of a DER TimeStampReq as `application/timestamp-query`, one DER TimeStampResp back as
//! `application/timestamp-reply`. Timeouts on connecting and on every read and write, a size
//! limit on the reply, Content-Length, chunked and read-to-close bodies.
//!
//! Plain `http://` only, by decision (docs/certificate-format.md, "Timestamps over HTTP"): the
//! token is itself signed by the TSA and checked against the auditor's trust anchors, the request
//! carries only a hash, and the accredited Japanese TSAs serve RFC 3161 over plain HTTP. A TLS
//! stack would add a second trust store, certificate-loading code and either a C library or a
//! large dependency to the static release binary for no gain in what the token proves. An
//! `https://` URL is refused with that explanation rather than silently downgraded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Limits of one exchange with a TSA.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// For each TCP connection attempt.
    pub connect: Duration,
    /// For each read or write on the connection (a stalled TSA is given up on).
    pub io: Duration,
    /// The largest reply body accepted.
    pub max_body: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connect: Duration::from_secs(10),
            io: Duration::from_secs(30),
            max_body: crate::input::limit::TIMESTAMP,
        }
    }
}

/// Why a TSA could not be asked. Each names the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("{url}: massho talks to TSAs over plain http:// only (the token is signed by the TSA and checked against your trust anchors; see docs/certificate-format.md); use the TSA's http:// address, or ask it offline (`massho cert timestamp-request`, then `timestamp-attach`)")]
    Https { url: String },
    #[error("{url}: not an http://HOST[:PORT]/PATH URL ({detail})")]
    BadUrl { url: String, detail: String },
    #[error("{url}: cannot connect ({detail}); check the URL and the network")]
    Connect { url: String, detail: String },
    #[error("{url}: {detail}; the TSA may be down or overloaded, try again later")]
    Io { url: String, detail: String },
    #[error("{url}: the TSA answered HTTP {code} {reason}; check the URL (and any access credentials the TSA requires)")]
    Status {
        url: String,
        code: u16,
        reason: String,
    },
    #[error("{url}: the reply is {content_type:?}, not application/timestamp-reply; is this the TSA's RFC 3161 address?")]
    ContentType { url: String, content_type: String },
    #[error("{url}: {detail}")]
    Protocol { url: String, detail: String },
    #[error("{url}: the reply is larger than {limit} bytes, far more than a timestamp; is this the TSA's RFC 3161 address?")]
    TooLarge { url: String, limit: u64 },
}

/// Refuse a URL [`fetch`] could not use, before any work that needs it.
pub fn check_url(url: &str) -> Result<(), HttpError> {
    Target::parse(url).map(|_| ())
}

/// POST `request_der` to the TSA at `url` and return the DER TimeStampResp, default limits.
pub fn fetch(url: &str, request_der: &[u8]) -> Result<Vec<u8>, HttpError> {
    fetch_with(url, request_der, &HttpLimits::default())
}

/// [`fetch`] with explicit limits.
pub fn fetch_with(
    url: &str,
    request_der: &[u8],
    limits: &HttpLimits,
) -> Result<Vec<u8>, HttpError> {
    let target = Target::parse(url)?;
    let io = |e: std::io::Error| HttpError::Io {
        url: url.to_string(),
        detail: match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {} s", limits.io.as_secs())
            }
            _ => e.to_string(),
        },
    };
    let stream = connect(url, &target, limits)?;
    stream.set_read_timeout(Some(limits.io)).map_err(io)?;
    stream.set_write_timeout(Some(limits.io)).map_err(io)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: massho/{}\r\nContent-Type: application/timestamp-query\r\nAccept: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        target.path,
        target.host_header,
        env!("CARGO_PKG_VERSION"),
        request_der.len()
    );
    let mut writer = &stream;
    writer.write_all(head.as_bytes()).map_err(io)?;
    writer.write_all(request_der).map_err(io)?;
    writer.flush().map_err(io)?;

    let mut reader = BufReader::new(&stream);
    let protocol = |detail: String| HttpError::Protocol {
        url: url.to_string(),
        detail,
    };
    // Interim 1xx answers (100 Continue) come before the real one.
    let (code, reason, headers) = loop {
        let (code, reason, headers) = read_head(&mut reader).map_err(|e| match e {
            HeadError::Io(e) => io(e),
            HeadError::Bad(detail) => protocol(detail),
        })?;
        if !(100..200).contains(&code) {
            break (code, reason, headers);
        }
    };
    if !(200..300).contains(&code) {
        return Err(HttpError::Status {
            url: url.to_string(),
            code,
            reason,
        });
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let content_type = header("content-type").unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // `application/timestamp-response` is what some older TSAs send.
    if media != "application/timestamp-reply" && media != "application/timestamp-response" {
        return Err(HttpError::ContentType {
            url: url.to_string(),
            content_type: content_type.chars().take(100).collect(),
        });
    }
    let too_large = || HttpError::TooLarge {
        url: url.to_string(),
        limit: limits.max_body,
    };
    let chunked = header("transfer-encoding").is_some_and(|v| {
        v.to_ascii_lowercase()
            .split(',')
            .any(|t| t.trim() == "chunked")
    });
    if chunked {
        return read_chunked(&mut reader, limits.max_body).map_err(|e| match e {
            BodyError::Io(e) => io(e),
            BodyError::Bad(detail) => protocol(detail),
            BodyError::TooLarge => too_large(),
        });
    }
    match header("content-length") {
        Some(len) => {
            let len: u64 = len
                .trim()
                .parse()
                .map_err(|_| protocol(format!("a Content-Length of {len:?}")))?;
            if len > limits.max_body {
                return Err(too_large());
            }
            let mut body = Vec::new();
            reader.take(len).read_to_end(&mut body).map_err(io)?;
            if body.len() as u64 != len {
                return Err(protocol(format!(
                    "the connection closed after {} of the {len} bytes announced",
                    body.len()
                )));
            }
            Ok(body)
        }
        None => {
            let mut body = Vec::new();
            reader
                .take(limits.max_body + 1)
                .read_to_end(&mut body)
                .map_err(io)?;
            if body.len() as u64 > limits.max_body {
                return Err(too_large());
            }
            Ok(body)
        }
    }
}

/// Where an `http://` URL points.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// The host as written: a name, an IPv4 literal or a bracketed IPv6 literal.
    host: String,
    port: u16,
    /// The Host header: the host, with the port when not 80.
    host_header: String,
    /// The request target: path and query, `/` when empty.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = |detail: &str| HttpError::BadUrl {
            url: url.to_string(),
            detail: detail.to_string(),
        };
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err(HttpError::Https {
                url: url.to_string(),
            });
        }
        if !lower.starts_with("http://") {
            return Err(bad("it must start with http://"));
        }
        let rest = &url["http://".len()..];
        if rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(bad("it holds spaces, control or non-ASCII characters"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let path = path.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(bad("user names and passwords in the URL are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("an unclosed [IPv6] host"))?;
            let after = &v6[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after the [IPv6] host")),
            };
            (&authority[..end + 2], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        let port: u16 = match port {
            None => 80,
            Some(p) => p
                .parse()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        Ok(Target {
            host: host.to_string(),
            port,
            host_header: if port == 80 {
                host.to_string()
            } else {
                format!("{host}:{port}")
            },
            path,
        })
    }
}

fn connect(url: &str, target: &Target, limits: &HttpLimits) -> Result<TcpStream, HttpError> {
    let failed = |detail: String| HttpError::Connect {
        url: url.to_string(),
        detail,
    };
    // Not `ToSocketAddrs`: getaddrinfo would link glibc's NSS into the static binary.
    let addresses = super::resolve::resolve(&target.host, target.port, limits.connect)
        .map_err(|e| failed(format!("cannot resolve the host: {e}")))?;
    let mut last = String::from("the host has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, limits.connect) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(failed(last))
}

enum HeadError {
    Io(std::io::Error),
    Bad(String),
}

/// Longest status or header line, and most header lines, accepted.
const MAX_LINE: u64 = 8 * 1024;
const MAX_HEADERS: usize = 100;

fn read_line(reader: &mut impl BufRead) -> Result<String, HeadError> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(HeadError::Io)?;
    if line.last() != Some(&b'\n') {
        return Err(HeadError::Bad(if line.is_empty() {
            "the connection closed before an HTTP answer".into()
        } else {
            "an HTTP header line too long or cut short".into()
        }));
    }
    let text = String::from_utf8(line)
        .map_err(|_| HeadError::Bad("an HTTP header that is not text".into()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

type Head = (u16, String, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> Result<Head, HeadError> {
    let status = read_line(reader)?;
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    let (true, Some(code)) = (version.starts_with("HTTP/1."), code) else {
        return Err(HeadError::Bad(format!(
            "not an HTTP/1.x answer: {:?}",
            status.chars().take(80).collect::<String>()
        )));
    };
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok((code, reason, headers));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(HeadError::Bad("too many HTTP headers".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HeadError::Bad(format!("a malformed HTTP header {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

enum BodyError {
    Io(std::io::Error),
    Bad(String),
    TooLarge,
}

/// A `Transfer-Encoding: chunked` body (RFC 9112 §7.1), extensions and trailers ignored.
fn read_chunked(reader: &mut impl BufRead, max: u64) -> Result<Vec<u8>, BodyError> {
    let head = |e: HeadError| match e {
        HeadError::Io(e) => BodyError::Io(e),
        HeadError::Bad(d) => BodyError::Bad(d),
    };
    let mut body = Vec::new();
    loop {
        let line = read_line(reader).map_err(head)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| BodyError::Bad(format!("a chunk size of {size_text:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader).map_err(head)?.is_empty() {}
            return Ok(body);
        }
        if body.len() as u64 + size > max {
            return Err(BodyError::TooLarge);
        }
        let before = body.len();
        reader
            .take(size)
            .read_to_end(&mut body)
            .map_err(BodyError::Io)?;
        if (body.len() - before) as u64 != size {
            return Err(BodyError::Bad(
                "the connection closed inside a chunk".into(),
            ));
        }
        if !read_line(reader).map_err(head)?.is_empty() {
            return Err(BodyError::Bad("a chunk longer than its size".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_are_parsed_or_refused_with_a_reason() {
        let t = Target::parse("http://tsa.example.jp/tsa").unwrap();
        assert_eq!(
            t,
            Target {
                host: "tsa.example.jp".into(),
                port: 80,
                host_header: "tsa.example.jp".into(),
                path: "/tsa".into()
            }
        );
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/")
        );
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = Target::parse("http://[::1]:318/ts?x=1#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("[::1]", 318, "/ts?x=1")
        );
        assert!(matches!(
            Target::parse("https://tsa.example.jp/"),
            Err(HttpError::Https { .. })
        ));
        for bad in [
            "ftp://x/",
            "http://",
            "http://h:0/",
            "http://h:99999/",
            "http://u:p@h/",
            "http://h /x",
            "http://[::1/",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    /// A one-shot server answering `reply` (raw bytes) to one request; returns its URL.
    fn serve(reply: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            stream.write_all(&reply).unwrap();
        });
        url
    }

    #[test]
    fn content_length_chunked_and_close_bodies() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n";
        let url = serve(format!("{ok}Content-Length: 5\r\n\r\nhello").into_bytes());
        assert_eq!(fetch(&url, b"q").unwrap(), b"hello");
        let url = serve(
            format!("HTTP/1.1 100 Continue\r\n\r\n{ok}Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nT: 1\r\n\r\n")
                .into_bytes(),
        );
        assert_eq!(fetch(&url, b"q").unwrap(), b"hello");
        let url = serve(format!("{ok}\r\nhello").into_bytes());
        assert_eq!(fetch(&url, b"q").unwrap(), b"hello");
    }

    #[test]
    fn errors_name_the_url_and_the_cause() {
        let url = serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec());
        let e = fetch(&url, b"q").unwrap_err();
        assert!(matches!(e, HttpError::Status { code: 404, .. }), "{e}");
        assert!(e.to_string().contains(&url), "{e}");
        let url = serve(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>".to_vec());
        assert!(matches!(
            fetch(&url, b"q"),
            Err(HttpError::ContentType { .. })
        ));
        let url = serve(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 10\r\n\r\nshort"
                .to_vec(),
        );
        assert!(matches!(fetch(&url, b"q"), Err(HttpError::Protocol { .. })));
        let url = serve(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 99999999\r\n\r\n"
                .to_vec(),
        );
        assert!(matches!(fetch(&url, b"q"), Err(HttpError::TooLarge { .. })));
        let limits = HttpLimits {
            max_body: 4,
            ..HttpLimits::default()
        };
        let url = serve(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
                .to_vec(),
        );
        assert!(matches!(
            fetch_with(&url, b"q", &limits),
            Err(HttpError::TooLarge { .. })
        ));
        let url = serve(b"garbage\r\n\r\n".to_vec());
        assert!(matches!(fetch(&url, b"q"), Err(HttpError::Protocol { .. })));
        // Nothing listens on a port just released.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        assert!(matches!(fetch(&url, b"q"), Err(HttpError::Connect { .. })));
    }
}
