//! Is a silent UDP trunk there at all? A CANCEL-free way to tell "nothing
//! listens on that port" (ICMP port unreachable) from "slow to answer".
//!
//! rsipstack's shared SIP socket is unconnected, and Linux reports ICMP
//! errors only to connected sockets; so a short-lived connected socket
//! sends a CRLF keep-alive (RFC 5626 §4.4.1, ignored by SIP servers) and
//! listens for the refusal.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

/// How long to wait for the refusal; an ICMP error comes within a round trip.
const LISTEN_FOR: Duration = Duration::from_millis(1500);

/// A probe under way.
pub(crate) struct Probe {
    socket: UdpSocket,
}

impl Probe {
    /// Sends the keep-alive; `None` when no socket could be made (then we
    /// simply know nothing more).
    pub(crate) async fn start(trunk: SocketAddr) -> Option<Probe> {
        let any: SocketAddr = if trunk.is_ipv6() { SocketAddr::from(([0u16; 8], 0)) } else { SocketAddr::from(([0u8; 4], 0)) };
        let socket = UdpSocket::bind(any).await.ok()?;
        socket.connect(trunk).await.ok()?;
        socket.send(b"\r\n\r\n").await.ok()?;
        Some(Probe { socket })
    }

    /// `true` when the trunk's host refused (nothing listens on the port).
    pub(crate) async fn refused(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(LISTEN_FOR, self.socket.recv(&mut buf)).await {
            Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_refused_and_a_listening_one_is_not() {
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let mut p = Probe::start(closed).await.unwrap();
        assert!(p.refused().await);

        let open = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut p = Probe::start(open.local_addr().unwrap()).await.unwrap();
        assert!(!p.refused().await);
    }
}
