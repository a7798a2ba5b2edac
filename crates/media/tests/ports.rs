//! RTP port allocation: even ports, exhaustion, release on drop, no leaks.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use waihu_media::{PortAllocator, PortError, PortRange};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A range of `len` ports that are all free right now, different for each
/// test (`slot`) and each test process, so parallel runs do not collide.
fn free_range(slot: u16, len: u16) -> PortRange {
    let base = 20_000 + (std::process::id() % 400) as u16 * 64 + slot * 16;
    for attempt in 0..200u16 {
        let min = base.wrapping_add(attempt.wrapping_mul(25_600)) % 20_000 + 20_000;
        let min = min & !1;
        let all_free = (min..min + len).all(|p| UdpSocket::bind((LOCALHOST, p)).is_ok());
        if all_free {
            return PortRange::new(min, min + len - 1).unwrap();
        }
    }
    panic!("no free port range found");
}

#[test]
fn ranges_must_hold_an_rtp_rtcp_pair() {
    assert!(matches!(
        PortRange::new(10_000, 10_000),
        Err(PortError::InvalidRange { .. })
    ));
    assert!(matches!(
        PortRange::new(0, 100),
        Err(PortError::InvalidRange { .. })
    ));
    assert!(matches!(
        PortRange::new(10_001, 10_002),
        Err(PortError::InvalidRange { .. })
    ));
    assert_eq!(PortRange::new(10_000, 10_001).unwrap().rtp_port_count(), 1);
    assert_eq!(PortRange::new(10_001, 10_003).unwrap().rtp_port_count(), 1);
    assert_eq!(
        PortRange::new(10_000, 10_999).unwrap().rtp_port_count(),
        500
    );
    assert_eq!(
        PortRange::new(10_000, 10_999).unwrap().to_string(),
        "10000-10999"
    );
}

#[test]
fn allocate_all_then_exhausted_then_drop_one_and_allocate_again() {
    let range = free_range(0, 8);
    let alloc = PortAllocator::new(LOCALHOST, range);
    let mut held: Vec<_> = (0..4)
        .map(|_| alloc.allocate().expect("a free port"))
        .collect();
    let mut ports: Vec<u16> = held.iter().map(|p| p.port()).collect();
    ports.sort_unstable();
    assert_eq!(
        ports,
        [range.min, range.min + 2, range.min + 4, range.min + 6]
    );
    assert_eq!(held[0].local_addr().unwrap().port(), held[0].port());

    match alloc.allocate() {
        Err(PortError::PortsExhausted { range: r }) => assert_eq!(r, range),
        other => panic!("expected exhaustion, got {other:?}"),
    }
    assert_eq!(alloc.in_use(), 4);

    let freed = held.remove(1).port();
    assert_eq!(alloc.in_use(), 3);
    let again = alloc.allocate().expect("the freed port");
    assert_eq!(again.port(), freed);
}

#[test]
fn dropped_ports_leave_no_socket_behind() {
    let range = free_range(1, 8);
    let alloc = PortAllocator::new(LOCALHOST, range);
    let held: Vec<_> = (0..4).map(|_| alloc.allocate().unwrap()).collect();
    let ports: Vec<u16> = held.iter().map(|p| p.port()).collect();
    drop(held);
    assert_eq!(alloc.in_use(), 0);
    // Every port binds again: the sockets were really closed.
    for port in ports {
        UdpSocket::bind((LOCALHOST, port)).expect("port released");
    }
}

#[test]
fn a_split_port_stays_reserved_while_its_lease_lives() {
    let range = free_range(2, 2);
    let alloc = PortAllocator::new(LOCALHOST, range);
    let (socket, lease) = alloc.allocate().unwrap().into_parts();
    drop(socket);
    assert!(matches!(
        alloc.allocate(),
        Err(PortError::PortsExhausted { .. })
    ));
    drop(lease);
    assert!(alloc.allocate().is_ok());
}

#[test]
fn freed_ports_are_not_handed_straight_back() {
    let range = free_range(3, 8);
    let alloc = PortAllocator::new(LOCALHOST, range);
    let first = alloc.allocate().unwrap().port();
    let second = alloc.allocate().unwrap().port();
    assert_ne!(first, second, "round robin moves on");
}

#[test]
fn ports_held_by_other_programs_are_skipped() {
    let range = free_range(4, 4);
    let squatter = UdpSocket::bind((LOCALHOST, range.min)).unwrap();
    let alloc = PortAllocator::new(LOCALHOST, range);
    assert_eq!(alloc.allocate().unwrap().port(), range.min + 2);
    drop(squatter);
}

#[test]
fn rtcp_ports_can_be_bound_too() {
    let range = free_range(5, 4);
    let alloc = PortAllocator::new(LOCALHOST, range).bind_rtcp(true);
    let port = alloc.allocate().unwrap();
    assert!(
        UdpSocket::bind((LOCALHOST, port.port() + 1)).is_err(),
        "RTCP port held"
    );
    let rtcp = port.port() + 1;
    drop(port);
    assert!(
        UdpSocket::bind((LOCALHOST, rtcp)).is_ok(),
        "RTCP port released"
    );
}

#[test]
fn an_address_that_is_not_local_is_a_bind_error() {
    // 192.0.2.0/24 is reserved for documentation: never a local address.
    let alloc = PortAllocator::new(
        "192.0.2.1".parse().unwrap(),
        PortRange::new(30_000, 30_003).unwrap(),
    );
    assert!(matches!(alloc.allocate(), Err(PortError::Bind { .. })));
}
