//! Who the server is: its `product` and `version`, from the server properties of AMQP's
//! `connection.start`, the first frame a server sends. The client library does not expose
//! them, so a short connection of our own reads that frame (parsed by `amq-protocol`, the
//! client's own codec) and hangs up before logging in. It also gives the plainest error
//! when nothing listens at the address.

use crate::results::Server;
use amq_protocol::frame::{AMQPFrame, parse_frame};
use amq_protocol::protocol::{AMQPClass, connection::AMQPMethod};
use amq_protocol::types::AMQPValue;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why the server could not be asked.
#[derive(Debug)]
pub enum InfoError {
    /// Nothing answered (or not AMQP).
    Unreachable(String),
    /// The URL has no usable host.
    BadUrl(String),
}

/// `host:port` of an `amqp://[user[:pass]@]host[:port][/vhost]` URL (port 5672 by default).
fn address(url: &str) -> Result<String, InfoError> {
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| InfoError::BadUrl("it must start with amqp://".into()))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return Err(InfoError::BadUrl("no host".into()));
    }
    Ok(if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:5672") })
}

/// The server's product and version (`"?"` for one it does not announce).
pub fn server_info(url: &str) -> Result<Server, InfoError> {
    let addr = address(url)?;
    let unreachable = |e: std::io::Error| InfoError::Unreachable(e.to_string());
    let sock = addr
        .to_socket_addrs()
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| InfoError::BadUrl(format!("{addr} resolves to no address")))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).map_err(unreachable)?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(unreachable)?;
    s.write_all(b"AMQP\x00\x00\x09\x01").map_err(unreachable)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).map_err(unreachable)?;
        if n == 0 {
            return Err(InfoError::Unreachable(format!(
                "{addr} closed the connection without an AMQP greeting"
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_frame(buf.as_slice()) {
            Ok((_, AMQPFrame::Method(_, AMQPClass::Connection(AMQPMethod::Start(start))))) => {
                let get = |k: &str| match start.server_properties.inner().get(k) {
                    Some(AMQPValue::LongString(v)) => v.to_string(),
                    Some(v) => format!("{v:?}"),
                    None => "?".into(),
                };
                return Ok(Server { product: get("product"), version: get("version") });
            }
            Ok(_) => {
                return Err(InfoError::Unreachable(format!("{addr} does not speak AMQP 0-9-1")));
            }
            Err(_) if buf.len() < 1 << 20 => continue, // incomplete: read more
            Err(_) => {
                return Err(InfoError::Unreachable(format!("{addr} does not speak AMQP 0-9-1")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_takes_host_and_port_from_the_url() {
        assert_eq!(address("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap(), "127.0.0.1:5672");
        assert_eq!(address("amqp://127.0.0.1").unwrap(), "127.0.0.1:5672");
        assert!(matches!(address("http://x"), Err(InfoError::BadUrl(_))));
    }
}
