//! What `fetch` may connect to: public addresses only, unless the agent
//! lists a host in `sandbox.private_hosts`.
//!
//! A model can be prompt-injected into fetching the machine's own
//! services or a cloud's metadata service, so loopback, private,
//! shared (carrier-grade NAT), link-local, unique-local, multicast,
//! unspecified and reserved addresses are refused, by every spelling:
//! IPv4-mapped, -compatible, NAT64 and 6to4 IPv6 addresses are judged by
//! the IPv4 address inside. The check is made on what DNS answers (the
//! [`GuardedResolver`] hands the connector only allowed addresses) and
//! again on the address actually connected to; cloud metadata names are
//! refused by name before any lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use protocol::sandbox::HostPort;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Names of cloud metadata services, refused whatever they resolve to.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
];

/// Why an address is not public, or `None` when it is.
pub(super) fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match (a, b) {
        (0, _) => "an unspecified (this-network) address",
        (127, _) => "a loopback address",
        (10, _) | (192, 168) => "a private address",
        (172, 16..=31) => "a private address",
        (100, 64..=127) => "a shared (carrier-grade NAT) address",
        (169, 254) => "a link-local address (where cloud metadata services listen)",
        (224..=239, _) => "a multicast address",
        (240..=255, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        return v4_kind(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        0xfc00..=0xfdff => "a unique-local address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4
/// (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Some(low()),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The agent's exceptions and the checks made with them.
#[derive(Clone, Debug, Default)]
pub(super) struct Guard {
    allowed: Vec<HostPort>,
}

impl Guard {
    /// A guard with the agent's `sandbox.private_hosts` (entries that do not
    /// parse were refused when the agent was saved, and are skipped).
    pub(super) fn new(private_hosts: &[String]) -> Guard {
        Guard {
            allowed: private_hosts
                .iter()
                .filter_map(|entry| HostPort::parse(entry).ok())
                .collect(),
        }
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port))
    }

    /// Checks the URL's host before anything is looked up. `Ok(true)` when
    /// the agent lists the host itself, so what it resolves to is not
    /// checked; `Ok(false)` when its addresses must still be checked.
    pub(super) fn check_url(&self, url: &reqwest::Url) -> Result<bool, String> {
        let port = url.port_or_known_default().unwrap_or(80);
        match url.host() {
            None => Err(format!("{url} has no host")),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if self.allows(&name, port) {
                    return Ok(true);
                }
                if METADATA_NAMES.contains(&name.as_str()) {
                    return Err(format!(
                        "refused: {name} is a cloud metadata service (list it in the agent's \
                         sandbox.private_hosts to allow it)"
                    ));
                }
                Ok(false)
            }
            Some(url::Host::Ipv4(ip)) => self.check_ip(&url_host(url), IpAddr::V4(ip), port),
            Some(url::Host::Ipv6(ip)) => self.check_ip(&url_host(url), IpAddr::V6(ip), port),
        }
    }

    /// Checks one address the request would go to (or went to).
    pub(super) fn check_ip(&self, host: &str, ip: IpAddr, port: u16) -> Result<bool, String> {
        if self.allows(&ip.to_string(), port) {
            return Ok(true);
        }
        match private_kind(ip) {
            None => Ok(false),
            Some(kind) => Err(refusal(host, ip, kind)),
        }
    }

    /// Checks the address a response came from.
    pub(super) fn check_connected(&self, host: &str, addr: SocketAddr) -> Result<(), String> {
        self.check_ip(host, addr.ip(), addr.port()).map(drop)
    }
}

fn url_host(url: &reqwest::Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

fn refusal(host: &str, ip: IpAddr, kind: &str) -> String {
    let named = if host.trim_matches(['[', ']']) == ip.to_string() {
        format!("{ip}")
    } else {
        format!("{host} ({ip})")
    };
    format!(
        "refused: {named} is {kind}; fetch reaches only public addresses unless the agent \
         lists the host in sandbox.private_hosts"
    )
}

/// Resolves names with the system's resolver and keeps only the public
/// addresses, so the connector cannot reach anything else.
#[derive(Clone, Debug)]
pub(super) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|err| format!("cannot resolve {host}: {err}"))?
                .collect();
            let mut refused = None;
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match private_kind(addr.ip()) {
                    None => true,
                    Some(kind) => {
                        refused.get_or_insert_with(|| refusal(&host, addr.ip(), kind));
                        false
                    }
                })
                .collect();
            if public.is_empty() {
                let why = refused.unwrap_or_else(|| format!("{host} has no address"));
                return Err(why.into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn every_spelling_of_a_private_address_is_refused() {
        let guard = Guard::default();
        for text in [
            "http://127.0.0.1:8080/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://0.0.0.0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.1.1/",
            "http://100.100.100.200/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://255.255.255.255/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./",
            "http://instance-data/",
        ] {
            let err = guard.check_url(&url(text)).unwrap_err();
            assert!(err.starts_with("refused: "), "{text}: {err}");
        }
    }

    #[test]
    fn public_addresses_and_names_pass_to_the_resolver() {
        let guard = Guard::default();
        for text in [
            "https://example.com/",
            "http://93.184.215.14/",
            "http://[2606:4700::1111]/",
            "http://localhost/",
        ] {
            assert_eq!(guard.check_url(&url(text)), Ok(false), "{text}");
        }
    }

    #[test]
    fn listed_private_hosts_are_allowed_on_their_port_only() {
        let guard = Guard::new(&[
            "127.0.0.1:8080".into(),
            "wiki.corp".into(),
            "[::1]:9000".into(),
        ]);
        assert_eq!(guard.check_url(&url("http://127.0.0.1:8080/")), Ok(true));
        assert_eq!(guard.check_url(&url("http://0x7f000001:8080/")), Ok(true));
        assert!(guard.check_url(&url("http://127.0.0.1:8081/")).is_err());
        assert_eq!(guard.check_url(&url("https://WIKI.corp./x")), Ok(true));
        assert_eq!(guard.check_url(&url("http://[::1]:9000/")), Ok(true));
        assert!(guard.check_url(&url("http://[::1]:9001/")).is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_by_the_resolver() {
        let name: Name = "localhost".parse().unwrap();
        let err = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err.to_string(),
        };
        assert!(
            err.contains("localhost") && err.contains("loopback"),
            "{err}"
        );
    }
}
