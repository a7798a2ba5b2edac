//! RTP port allocation over a configured range.
//!
//! RTP takes even ports and RTCP the odd port just above (RFC 3550 11), so
//! the allocator hands out only even ports and treats `port + 1` as part of
//! the same reservation. By default the RTCP port is reserved only in our
//! own book-keeping, not bound: we send no RTCP, and a second socket per
//! call would double the file descriptors a busy server needs. Use
//! [`PortAllocator::bind_rtcp`] to hold it against other programs too.
//!
//! Ports are taken round-robin from where the last allocation stopped, so a
//! port just freed is not handed straight back out: late packets for the
//! call that ended do not reach the next one. A port some other program
//! holds is skipped.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An inclusive range of UDP ports, e.g. `10000-20000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// The lowest port.
    pub min: u16,
    /// The highest port.
    pub max: u16,
}

impl PortRange {
    /// A range holding at least one even RTP port whose RTCP port (+1) also
    /// lies inside it.
    pub fn new(min: u16, max: u16) -> Result<Self, PortError> {
        let range = PortRange { min, max };
        if min == 0 || range.rtp_port_count() == 0 {
            return Err(PortError::InvalidRange { range });
        }
        Ok(range)
    }

    fn first_rtp_port(&self) -> u32 {
        u32::from(self.min).div_ceil(2) * 2
    }

    /// How many RTP ports (each with its RTCP neighbour) fit.
    pub fn rtp_port_count(&self) -> usize {
        let first = self.first_rtp_port();
        // The last usable RTP port p must have p + 1 <= max.
        let max = u32::from(self.max);
        if max < first + 1 {
            0
        } else {
            ((max - 1 - first) / 2 + 1) as usize
        }
    }

    fn rtp_port(&self, index: usize) -> u16 {
        (self.first_rtp_port() + 2 * index as u32) as u16
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// Why no port was allocated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PortError {
    /// Every RTP port in the range is in use (by us or another program).
    #[error("no free RTP port in {range}")]
    PortsExhausted {
        /// The configured range.
        range: PortRange,
    },
    /// The range holds no even port with its odd neighbour.
    #[error("port range {range} holds no RTP/RTCP port pair")]
    InvalidRange {
        /// The rejected range.
        range: PortRange,
    },
    /// Binding failed for a reason other than the port being taken (e.g.
    /// the address is not local).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
}

#[derive(Debug)]
struct Book {
    in_use: Vec<bool>,
    cursor: usize,
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    // The book stays consistent even if a holder panicked: every update is
    // a single assignment.
    book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands out RTP ports; clone it freely (clones share one book).
#[derive(Debug, Clone)]
pub struct PortAllocator {
    ip: IpAddr,
    range: PortRange,
    bind_rtcp: bool,
    book: Arc<Mutex<Book>>,
}

impl PortAllocator {
    /// An allocator binding on `ip` within `range`.
    pub fn new(ip: IpAddr, range: PortRange) -> Self {
        let book = Book {
            in_use: vec![false; range.rtp_port_count()],
            cursor: 0,
        };
        PortAllocator {
            ip,
            range,
            bind_rtcp: false,
            book: Arc::new(Mutex::new(book)),
        }
    }

    /// Also bind each RTCP port (and keep it until the lease ends).
    pub fn bind_rtcp(mut self, yes: bool) -> Self {
        self.bind_rtcp = yes;
        self
    }

    /// The configured range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// RTP ports currently leased.
    pub fn in_use(&self) -> usize {
        lock(&self.book).in_use.iter().filter(|&&u| u).count()
    }

    /// Binds the next free RTP port. The socket is non-blocking, ready for
    /// `tokio::net::UdpSocket::from_std`.
    pub fn allocate(&self) -> Result<RtpPort, PortError> {
        let mut book = lock(&self.book);
        let n = book.in_use.len();
        for k in 0..n {
            let index = (book.cursor + k) % n;
            if book.in_use[index] {
                continue;
            }
            let port = self.range.rtp_port(index);
            let Some((socket, rtcp)) = self.bind_pair(port)? else {
                continue;
            };
            book.in_use[index] = true;
            book.cursor = (index + 1) % n;
            let lease = PortLease {
                port,
                index,
                rtcp,
                book: Arc::clone(&self.book),
            };
            return Ok(RtpPort { socket, lease });
        }
        Err(PortError::PortsExhausted { range: self.range })
    }

    /// `Ok(None)` when another program holds either port.
    fn bind_pair(&self, port: u16) -> Result<Option<(UdpSocket, Option<UdpSocket>)>, PortError> {
        let Some(rtp) = bind(SocketAddr::new(self.ip, port))? else {
            return Ok(None);
        };
        let rtcp = if self.bind_rtcp {
            match bind(SocketAddr::new(self.ip, port + 1))? {
                Some(s) => Some(s),
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some((rtp, rtcp)))
    }
}

fn bind(addr: SocketAddr) -> Result<Option<UdpSocket>, PortError> {
    let result = UdpSocket::bind(addr).and_then(|s| s.set_nonblocking(true).map(|()| s));
    match result {
        Ok(socket) => Ok(Some(socket)),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
        Err(source) => Err(PortError::Bind { addr, source }),
    }
}

/// The reservation of one RTP/RTCP port pair; dropping it frees the pair.
/// Keep it alive as long as the socket is in use.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    index: usize,
    rtcp: Option<UdpSocket>,
    book: Arc<Mutex<Book>>,
}

impl PortLease {
    /// The RTP port (RTCP is this plus one).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        // Close the RTCP socket before the port pair is offered again.
        drop(self.rtcp.take());
        if let Some(slot) = lock(&self.book).in_use.get_mut(self.index) {
            *slot = false;
        }
    }
}

/// A bound RTP socket and its lease. Dropping it closes the socket(s)
/// before freeing the port.
#[derive(Debug)]
pub struct RtpPort {
    // Field order matters: the socket closes before the lease frees the port.
    socket: UdpSocket,
    lease: PortLease,
}

impl RtpPort {
    /// The RTP port, for the SDP `m=audio` line.
    pub fn port(&self) -> u16 {
        self.lease.port
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The RTP socket and the lease (which also keeps a bound RTCP socket).
    /// Hold the lease for as long as the socket lives.
    pub fn into_parts(self) -> (UdpSocket, PortLease) {
        (self.socket, self.lease)
    }
}
