//! The SIP endpoint shared by every call: the socket, rsipstack's
//! transaction and dialog layers, the routing of incoming requests to their
//! dialogs, and the addresses we advertise. Registration is in
//! `registration.rs`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::rsip::{Method, StatusCode, Transport, Uri};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use rsipstack::platform::CancellationToken;

use super::config::{SipConfig, SipTransport};
use super::limits::{CallSlots, DialRate};
use super::media::PortPool;
use super::registration::{keep_registered, RegistrationState};

/// What a call needs from the shared endpoint.
pub(crate) struct Trunk {
    pub(crate) cfg: SipConfig,
    pub(crate) dialogs: Arc<DialogLayer>,
    pub(crate) credential: Option<Credential>,
    /// The address advertised in Contact, Via and SDP.
    pub(crate) advertised_ip: IpAddr,
    /// Where requests go.
    pub(crate) destination: SipAddr,
    /// The trunk's resolved address (for the unreachability probe).
    pub(crate) trunk_addr: SocketAddr,
    pub(crate) slots: CallSlots,
    pub(crate) rate: DialRate,
    pub(crate) ports: PortPool,
    local_sip: SocketAddr,
    cancel: CancellationToken,
    registration: Mutex<RegistrationState>,
}

impl Trunk {
    pub(crate) async fn start(cfg: SipConfig) -> Result<Arc<Trunk>, String> {
        let password = cfg.resolve_password()?;
        let credential = cfg.username.clone().filter(|_| password.is_some()).map(|username| Credential {
            username,
            password: password.unwrap_or_default(),
            realm: cfg.realm.clone(),
            auth_username: None,
        });
        let trunk_addr = tokio::net::lookup_host((cfg.host.trim(), cfg.port))
            .await
            .map_err(|e| format!("[carrier.sip] host {:?} cannot be resolved: {e}", cfg.host))?
            .next()
            .ok_or_else(|| format!("[carrier.sip] host {:?} has no address", cfg.host))?;
        let advertised_ip = advertised_ip(&cfg, trunk_addr).await?;

        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.clone());
        let (local_sip, transport) = match cfg.transport {
            SipTransport::Udp => {
                let mut conn = UdpConnection::create_connection(cfg.bind, None, Some(cancel.child_token()))
                    .await
                    .map_err(|e| format!("[carrier.sip] cannot bind SIP/UDP on {}: {e}", cfg.bind))?;
                let bound = conn.get_addr().get_socketaddr().map_err(|e| format!("SIP socket address: {e}"))?;
                let local = SocketAddr::new(cfg.bind.ip(), bound.port());
                // Advertise the address the trunk can reach, with the real port.
                conn.external = Some(SipAddr { r#type: Some(Transport::Udp), addr: SocketAddr::new(advertised_ip, local.port()).into() });
                transport_layer.add_transport(SipConnection::Udp(conn));
                (local, Transport::Udp)
            }
            SipTransport::Tcp => {
                let local = if cfg.bind.port() == 0 {
                    // The listener binds when the endpoint serves: pick its port now
                    // so Contact can name it.
                    let probe = std::net::TcpListener::bind(cfg.bind).map_err(|e| format!("[carrier.sip] cannot bind SIP/TCP on {}: {e}", cfg.bind))?;
                    probe.local_addr().map_err(|e| e.to_string())?
                } else {
                    cfg.bind
                };
                let external = SocketAddr::new(advertised_ip, local.port());
                let listener = TcpListenerConnection::new(local, Some(external)).await.map_err(|e| format!("[carrier.sip] SIP/TCP listener: {e}"))?;
                transport_layer.add_transport(SipConnection::TcpListener(listener));
                (local, Transport::Tcp)
            }
        };
        let endpoint = EndpointBuilder::new()
            .with_user_agent(concat!("waihu/", env!("CARGO_PKG_VERSION")))
            .with_transport_layer(transport_layer)
            .with_cancel_token(cancel.clone())
            .build();
        let incoming = endpoint.incoming_transactions().map_err(|e| format!("SIP endpoint: {e}"))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let inner = endpoint.inner.clone();
        tokio::spawn(async move { endpoint.serve().await });
        tokio::spawn(route_incoming(incoming, dialogs.clone()));

        let ports = PortPool::new(cfg.rtp_port_min, cfg.rtp_port_max, cfg.bind.ip())?;
        let trunk = Arc::new(Trunk {
            destination: SipAddr { r#type: Some(transport), addr: trunk_addr.into() },
            trunk_addr,
            advertised_ip,
            slots: CallSlots::new(cfg.max_concurrent_calls),
            rate: DialRate::new(cfg.max_calls_per_second),
            ports,
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

    pub(crate) fn local_sip_addr(&self) -> SocketAddr {
        self.local_sip
    }

    pub(crate) fn dialogs_open(&self) -> usize {
        self.dialogs.len()
    }

    pub(crate) fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Resolves when the carrier shuts down.
    pub(crate) async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    pub(crate) fn registration_state(&self) -> RegistrationState {
        self.registration.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_registration(&self, state: RegistrationState) {
        *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// `;transport=tcp` over TCP: without it a URI means UDP (RFC 3263), and
    /// nothing of ours listens on UDP then.
    fn transport_param(&self) -> &'static str {
        if self.cfg.transport == SipTransport::Tcp {
            ";transport=tcp"
        } else {
            ""
        }
    }

    /// `sip:user@host:port` toward the trunk (with `;transport=tcp` over TCP).
    pub(crate) fn trunk_uri(&self, user: &str) -> Result<Uri, String> {
        let host = host_literal(&self.cfg.host);
        let text = format!("sip:{user}@{host}:{}{}", self.cfg.port, self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// The REGISTER Request-URI: `sip:host:port` (no user, RFC 3261 §10.2).
    pub(crate) fn registrar_uri(&self) -> Result<Uri, String> {
        let text = format!("sip:{}:{}{}", host_literal(&self.cfg.host), self.cfg.port, self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// The Contact we register: `sip:username@advertised:port`.
    pub(crate) fn register_contact_uri(&self) -> Result<Uri, String> {
        let user = self.cfg.username.as_deref().unwrap_or(&self.cfg.from_user);
        self.contact_uri_for(user)
    }

    /// Our From: `sip:from_user@trunk-host` (the caller ID the trunk sees).
    pub(crate) fn caller_uri(&self) -> Result<Uri, String> {
        let text = format!("sip:{}@{}", self.cfg.from_user, host_literal(&self.cfg.host));
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// Our Contact: `sip:from_user@advertised:port` (`;transport=tcp` over TCP).
    pub(crate) fn contact_uri(&self) -> Result<Uri, String> {
        self.contact_uri_for(&self.cfg.from_user)
    }

    fn contact_uri_for(&self, user: &str) -> Result<Uri, String> {
        let host = host_literal(&self.advertised_ip.to_string());
        let text = format!("sip:{user}@{host}:{}{}", self.local_sip.port(), self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }
}

/// IPv6 literals go in brackets inside a SIP URI.
fn host_literal(host: &str) -> String {
    let host = host.trim();
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The configured external IP, else the bind IP, else the local address
/// the kernel would use toward the trunk (no packet is sent to find it).
async fn advertised_ip(cfg: &SipConfig, trunk: SocketAddr) -> Result<IpAddr, String> {
    if let Some(ip) = cfg.external_ip {
        return Ok(ip);
    }
    if !cfg.bind.ip().is_unspecified() {
        return Ok(cfg.bind.ip());
    }
    let any: SocketAddr = if trunk.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }.map_err(|e| format!("{e}"))?;
    let probe = tokio::net::UdpSocket::bind(any).await.map_err(|e| format!("cannot find the local address toward the trunk: {e}"))?;
    probe.connect(trunk).await.map_err(|e| format!("no route to the trunk {trunk}: {e}"))?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.ip())
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
