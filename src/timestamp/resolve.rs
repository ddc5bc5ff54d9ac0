//! Host names to addresses for the TSA client, without glibc's resolver.
//!
//! Why not `ToSocketAddrs`: it calls `getaddrinfo`, which in the static release binary pulls in
//! glibc's NSS, and NSS `dlopen`s the running system's `libnss_*.so`, built for another glibc
//! (docs/release.md; `packaging/release.sh` refuses such a binary). A TSA needs only what a
//! plain stub resolver does, so this is one:
//!
//! 1. an IP literal (`192.0.2.7`, `[2001:db8::7]`) is used as it is;
//! 2. `/etc/hosts` (first match, names compared without case);
//! 3. DNS over UDP to each `nameserver` of `/etc/resolv.conf` in turn (127.0.0.1 when none):
//!    one recursive query for A records, then one for AAAA when there was no A record.
//!    An answer must carry the query's random id, the question asked, and no error; a truncated
//!    answer is an error (TCP fallback is not done: an A/AAAA answer fits in 512 bytes).
//!
//! No search domains: a TSA URL names its host fully.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use rand_core::RngCore;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The addresses of `host` (a name, an IPv4 literal or a bracketed IPv6 literal) at `port`.
/// The error says what failed, for the caller to put after the URL.
pub fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.starts_with('[') {
        return Err(format!("{host} is not an IPv6 address"));
    }
    let name = host.trim_end_matches('.');
    check_name(name)?;
    let from_hosts = std::fs::read_to_string("/etc/hosts")
        .map(|text| in_hosts(&text, name))
        .unwrap_or_default();
    if !from_hosts.is_empty() {
        return Ok(from_hosts
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect());
    }
    let servers = std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| nameservers(&text))
        .unwrap_or_default();
    let servers = if servers.is_empty() {
        vec![IpAddr::from([127, 0, 0, 1])]
    } else {
        servers
    };
    let mut last = String::from("no name server answered");
    for server in servers {
        let mut failed = None;
        for qtype in [TYPE_A, TYPE_AAAA] {
            match ask(server, name, qtype, timeout) {
                Ok(ips) if ips.is_empty() => continue,
                Ok(ips) => {
                    return Ok(ips
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect())
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            // This server answered both questions, with no address.
            None => return Err(format!("{name} has no address (DNS, name server {server})")),
            Some(e) => last = format!("name server {server}: {e}"),
        }
    }
    Err(format!("cannot resolve {name}: {last}"))
}

/// A host name DNS can carry: labels of 1–63 letters, digits, `-` or `_`, 253 bytes in all.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a host name"))
    }
}

/// The addresses `/etc/hosts` (its text) gives `name`.
fn in_hosts(text: &str, name: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let ip = fields.next()?.parse::<IpAddr>().ok()?;
            fields.any(|n| n.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

/// The `nameserver` addresses of `/etc/resolv.conf` (its text), in order.
fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == "nameserver").then_some(())?;
            // A zone index (fe80::1%eth0) is not kept: link-local servers are not supported.
            fields.next()?.parse::<IpAddr>().ok()
        })
        .collect()
}

/// One query to one server: the addresses of type `qtype` it answers for `name`.
fn ask(server: IpAddr, name: &str, qtype: u16, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let id = (rand_core::OsRng.next_u32() & 0xffff) as u16;
    let query = query(id, name, qtype);
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    socket
        .connect(SocketAddr::new(server, 53))
        .map_err(|e| e.to_string())?;
    socket.send(&query).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    // Datagrams that are not the answer (another id: a late answer to an earlier query) are
    // skipped; the timeout bounds each wait.
    for _ in 0..8 {
        let n = socket.recv(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {} s", timeout.as_secs())
            }
            _ => e.to_string(),
        })?;
        match answer(&buf[..n], id, &query[12..], qtype) {
            Err(Answer::OtherId) => continue,
            Err(Answer::Bad(e)) => return Err(e),
            Ok(ips) => return Ok(ips),
        }
    }
    Err("too many stray answers".into())
}

/// A recursive query (RD) for `name`, type `qtype`, class IN.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.split('.') {
        q.push(label.len() as u8); // check_name: at most 63
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

enum Answer {
    /// Not the answer to this query.
    OtherId,
    Bad(String),
}

/// The addresses in a DNS answer to the query with `id` and `question` (its bytes after the
/// header). Everything is bounds-checked: the answer is whatever came over UDP.
fn answer(msg: &[u8], id: u16, question: &[u8], qtype: u16) -> Result<Vec<IpAddr>, Answer> {
    let bad = |s: &str| Answer::Bad(s.to_string());
    if msg.len() < 12 {
        return Err(bad("a DNS answer shorter than its header"));
    }
    if u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Err(Answer::OtherId);
    }
    if msg[2] & 0x02 != 0 {
        return Err(bad("the DNS answer was truncated"));
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => return Err(bad("no such host (NXDOMAIN)")),
        2 => return Err(bad("the name server failed (SERVFAIL)")),
        5 => return Err(bad("the name server refused the query")),
        r => return Err(Answer::Bad(format!("DNS error code {r}"))),
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    // The question must be ours, byte for byte (names compared without case).
    if qdcount != 1
        || msg.len() < 12 + question.len()
        || !msg[12..12 + question.len()].eq_ignore_ascii_case(question)
    {
        return Err(bad("the DNS answer is for another question"));
    }
    let mut at = 12 + question.len();
    let mut ips = Vec::new();
    for _ in 0..ancount {
        at = skip_name(msg, at).ok_or_else(|| bad("a malformed DNS answer"))?;
        let fixed = msg
            .get(at..at + 10)
            .ok_or_else(|| bad("a truncated DNS record"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg
            .get(at + 10..at + 10 + len)
            .ok_or_else(|| bad("a truncated DNS record"))?;
        at += 10 + len;
        // CNAME records on the way are skipped: the recursive server follows them and adds
        // the addresses of the name they lead to.
        if class != CLASS_IN || rtype != qtype {
            continue;
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => ips.push(IpAddr::from([data[0], data[1], data[2], data[3]])),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                ips.push(IpAddr::from(b));
            }
            _ => return Err(bad("a DNS address record of the wrong length")),
        }
    }
    Ok(ips)
}

/// The offset after the (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(at + 1)?;
                return Some(at + 2);
            }
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_used_as_they_are() {
        let t = Duration::from_secs(1);
        assert_eq!(
            resolve("192.0.2.7", 318, t).unwrap(),
            vec!["192.0.2.7:318".parse().unwrap()]
        );
        assert_eq!(
            resolve("[2001:db8::7]", 80, t).unwrap(),
            vec!["[2001:db8::7]:80".parse().unwrap()]
        );
        assert!(resolve("[not-v6]", 80, t).is_err());
        assert!(resolve("bad name", 80, t).is_err());
        assert!(resolve("a..b", 80, t).is_err());
    }

    #[test]
    fn hosts_and_resolv_conf_are_read_like_the_c_library_does() {
        let hosts = "127.0.0.1\tlocalhost\n# 10.0.0.1 tsa.example\n::1 localhost ip6-localhost\n192.0.2.9 TSA.example.jp tsa # the TSA\n";
        assert_eq!(
            in_hosts(hosts, "localhost"),
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            in_hosts(hosts, "tsa.example.jp"),
            vec!["192.0.2.9".parse::<IpAddr>().unwrap()]
        );
        assert!(in_hosts(hosts, "tsa.example").is_empty());
        let conf = "search example.jp\nnameserver 192.0.2.53\nnameserver   2001:db8::53\nnameserver fe80::1%eth0\noptions ndots:1\n";
        assert_eq!(
            nameservers(conf),
            vec![
                "192.0.2.53".parse::<IpAddr>().unwrap(),
                "2001:db8::53".parse().unwrap()
            ]
        );
    }

    /// An answer as a recursive server sends it: the question, a CNAME, then two A records
    /// whose owner names are compression pointers.
    fn reply(id: u16, question: &[u8]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]);
        m.extend_from_slice(question);
        // CNAME tsa.example.jp -> x.example.jp (pointer to offset 12 as the owner).
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'x', 0xc0, 16]);
        for ip in [[192, 0, 2, 1], [192, 0, 2, 2]] {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            m.extend_from_slice(&ip);
        }
        m
    }

    #[test]
    fn answers_are_checked_and_their_addresses_read() {
        let q = query(0x1234, "tsa.example.jp", TYPE_A);
        assert_eq!(&q[..12], &[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..17], &[3, b't', b's', b'a', 7]);
        assert_eq!(&q[q.len() - 4..], &[0, 1, 0, 1]);
        let question = &q[12..];
        let ok = reply(0x1234, question);
        let ips = answer(&ok, 0x1234, question, TYPE_A).ok().unwrap();
        assert_eq!(
            ips,
            vec![
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "192.0.2.2".parse().unwrap()
            ]
        );
        // Another id: skipped, not believed.
        assert!(matches!(
            answer(&ok, 0x4321, question, TYPE_A),
            Err(Answer::OtherId)
        ));
        // Another question.
        let other = query(0x1234, "evil.example.jp", TYPE_A);
        assert!(matches!(
            answer(&reply(0x1234, &other[12..]), 0x1234, question, TYPE_A),
            Err(Answer::Bad(_))
        ));
        // NXDOMAIN, truncation.
        let mut nx = ok.clone();
        nx[3] |= 3;
        assert!(
            matches!(answer(&nx, 0x1234, question, TYPE_A), Err(Answer::Bad(e)) if e.contains("NXDOMAIN"))
        );
        let mut tc = ok.clone();
        tc[2] |= 0x02;
        assert!(matches!(
            answer(&tc, 0x1234, question, TYPE_A),
            Err(Answer::Bad(_))
        ));
        // Every truncation of a good answer is an error or fewer addresses, never a panic.
        for n in 0..ok.len() {
            if let Ok(ips) = answer(&ok[..n], 0x1234, question, TYPE_A) {
                assert!(ips.len() < 2, "{n}");
            }
        }
    }
}
