//! Starting the SIP endpoint shared by every call: the socket, rsipstack's
//! transaction and dialog layers, the routing of incoming requests to their
//! dialogs, and the addresses we advertise. What it builds is the [`Trunk`]
//! (`trunk.rs`) the legs share; registration runs in `registration.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::platform::CancellationToken;
use rsipstack::rsip::{Method, StatusCode, Transport};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use waihu_media::{PortAllocator, PortRange};

use super::config::{SipConfig, SipTransport};
use super::error::SipStartError;
use super::limits::{CallSlots, DialRate};
use super::registration::keep_registered;
use super::trunk::{RegistrationState, Trunk};

/// Resolves the trunk, binds the SIP socket, starts rsipstack on it and,
/// when configured, the registration. Everything started ends with
/// [`Trunk::shutdown`].
pub(crate) async fn start(cfg: SipConfig) -> Result<Arc<Trunk>, SipStartError> {
    let password = cfg.resolve_password()?;
    let credential = cfg.username.clone().filter(|_| password.is_some()).map(|username| Credential {
        username,
        password: password.unwrap_or_default(),
        realm: cfg.realm.clone(),
        auth_username: None,
    });
    let trunk_addr = tokio::net::lookup_host((cfg.host.trim(), cfg.port))
        .await
        .map_err(|source| SipStartError::HostUnresolved { host: cfg.host.clone(), source })?
        .next()
        .ok_or_else(|| SipStartError::HostWithoutAddress { host: cfg.host.clone() })?;
    let advertised_ip = advertised_ip(&cfg, trunk_addr).await?;
    let range = PortRange::new(cfg.rtp_port_min, cfg.rtp_port_max).map_err(|source| SipStartError::RtpPorts { source })?;

    let cancel = CancellationToken::new();
    let (transport_layer, local_sip, transport) = bind_transport(&cfg, advertised_ip, &cancel).await?;
    let endpoint = EndpointBuilder::new()
        .with_user_agent(concat!("waihu/", env!("CARGO_PKG_VERSION")))
        .with_transport_layer(transport_layer)
        .with_cancel_token(cancel.clone())
        .build();
    let incoming = endpoint.incoming_transactions().map_err(|e| SipStartError::Endpoint { reason: e.to_string() })?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let inner = endpoint.inner.clone();
    tokio::spawn(async move { endpoint.serve().await });
    tokio::spawn(route_incoming(incoming, dialogs.clone()));

    let trunk = Arc::new(Trunk {
        destination: SipAddr { r#type: Some(transport), addr: trunk_addr.into() },
        trunk_addr,
        advertised_ip,
        slots: CallSlots::new(cfg.max_concurrent_calls),
        rate: DialRate::new(cfg.max_calls_per_second),
        ports: PortAllocator::new(cfg.bind.ip(), range),
        credential,
        dialogs,
        local_sip,
        cancel,
        registration: Mutex::new(if cfg.register { RegistrationState::Registering } else { RegistrationState::Disabled }),
        cfg,
    });
    if trunk.cfg.register {
        tokio::spawn(keep_registered(trunk.clone(), inner));
    }
    tracing::info!(
        sip = %trunk.local_sip,
        advertised = %trunk.advertised_ip,
        trunk = %trunk.trunk_addr,
        transport = ?trunk.cfg.transport,
        "SIP carrier started"
    );
    Ok(trunk)
}

/// Binds the SIP socket (UDP) or picks the listening port (TCP): the
/// transport layer for the endpoint, the local address, and the transport
/// our requests name.
async fn bind_transport(
    cfg: &SipConfig,
    advertised_ip: IpAddr,
    cancel: &CancellationToken,
) -> Result<(TransportLayer, SocketAddr, Transport), SipStartError> {
    let transport_layer = TransportLayer::new(cancel.clone());
    match cfg.transport {
        SipTransport::Udp => {
            let mut conn = UdpConnection::create_connection(cfg.bind, None, Some(cancel.child_token()))
                .await
                .map_err(|e| SipStartError::BindUdp { addr: cfg.bind, reason: e.to_string() })?;
            let bound = conn.get_addr().get_socketaddr().map_err(|e| SipStartError::SocketAddress { reason: e.to_string() })?;
            let local = SocketAddr::new(cfg.bind.ip(), bound.port());
            // Advertise the address the trunk can reach, with the real port.
            conn.external = Some(SipAddr { r#type: Some(Transport::Udp), addr: SocketAddr::new(advertised_ip, local.port()).into() });
            transport_layer.add_transport(SipConnection::Udp(conn));
            Ok((transport_layer, local, Transport::Udp))
        }
        SipTransport::Tcp => {
            let local = if cfg.bind.port() == 0 {
                // The listener binds when the endpoint serves: pick its port now
                // so Contact can name it.
                let bind_error = |source| SipStartError::BindTcp { addr: cfg.bind, source };
                std::net::TcpListener::bind(cfg.bind).map_err(bind_error)?.local_addr().map_err(bind_error)?
            } else {
                cfg.bind
            };
            let external = SocketAddr::new(advertised_ip, local.port());
            let listener =
                TcpListenerConnection::new(local, Some(external)).await.map_err(|e| SipStartError::TcpListener { reason: e.to_string() })?;
            transport_layer.add_transport(SipConnection::TcpListener(listener));
            Ok((transport_layer, local, Transport::Tcp))
        }
    }
}

/// The configured external IP, else the bind IP, else the local address
/// the kernel would use toward the trunk (no packet is sent to find it).
async fn advertised_ip(cfg: &SipConfig, trunk: SocketAddr) -> Result<IpAddr, SipStartError> {
    if let Some(ip) = cfg.external_ip {
        return Ok(ip);
    }
    if !cfg.bind.ip().is_unspecified() {
        return Ok(cfg.bind.ip());
    }
    let any = SocketAddr::new(if trunk.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() }, 0);
    let probe = tokio::net::UdpSocket::bind(any).await.map_err(|source| SipStartError::LocalAddress { source })?;
    probe.connect(trunk).await.map_err(|source| SipStartError::NoRoute { trunk, source })?;
    Ok(probe.local_addr().map_err(|source| SipStartError::LocalAddress { source })?.ip())
}

/// Hands every incoming request to its dialog (the far end's BYE,
/// re-INVITE, UPDATE, INFO); answers the rest itself.
async fn route_incoming(mut incoming: TransactionReceiver, dialogs: Arc<DialogLayer>) {
    while let Some(mut tx) = incoming.recv().await {
        if let Some(mut dialog) = dialogs.match_dialog(&tx) {
            tokio::spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    tracing::debug!(error = %e, "in-dialog request failed");
                }
            });
            continue;
        }
        tokio::spawn(async move {
            let status = match tx.original.method {
                Method::Ack => return,
                // Trunks ping with OPTIONS to see we are alive.
                Method::Options => StatusCode::OK,
                // waihu only places calls.
                Method::Invite => StatusCode::TemporarilyUnavailable,
                _ => StatusCode::CallTransactionDoesNotExist,
            };
            if let Err(e) = tx.reply(status).await {
                tracing::debug!(error = %e, "reply to an out-of-dialog request failed");
            }
        });
    }
}
