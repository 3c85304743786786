//! Where deliveries may go: public addresses only. A URL's host is resolved by our own resolver, which
//! drops every address that is not public before the client connects, so the address checked is the
//! address used and a DNS answer that changes between check and use (rebinding) cannot reach inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Whether `ip` is one deliveries must never reach: loopback, private, link-local, CGNAT, benchmarking,
/// reserved, multicast, unspecified, cloud metadata, and the IPv6 forms of those (IPv4-mapped and
/// -compatible addresses are judged as the IPv4 address they carry; NAT64 and 6to4 can reach IPv4 inside,
/// so they are refused whole).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        // CGNAT 100.64.0.0/10
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking 198.18.0.0/15
        || (a == 198 && (b == 18 || b == 19))
        // IETF protocol assignments 192.0.0.0/24 (and 192.0.0.192, Oracle's metadata)
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // The 6to4 relay anycast 192.88.99.0/24
        || (a == 192 && b == 88 && ip.octets()[2] == 99)
        // Azure's host address (WireServer and the metadata proxy)
        || ip == Ipv4Addr::new(168, 63, 129, 16)
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // IPv4-compatible ::a.b.c.d (deprecated; judged as the address it carries)
        || (segments[..6].iter().all(|s| *s == 0) && forbidden_v4(Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32)))
        // Unique local fc00::/7
        || (segments[0] & 0xfe00) == 0xfc00
        // Link-local fe80::/10, and the deprecated site-local fec0::/10
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // NAT64 64:ff9b::/96 and the local-use 64:ff9b:1::/48
        || (segments[0] == 0x64 && segments[1] == 0xff9b)
        // IPv4-translated ::ffff:0:a.b.c.d (SIIT)
        || (segments[..4].iter().all(|s| *s == 0) && segments[4] == 0xffff && segments[5] == 0)
        // 6to4 2002::/16; the IETF protocol assignments 2001::/23 (Teredo, ORCHID, benchmarking); documentation
        // 2001:db8::/32
        || segments[0] == 0x2002
        || (segments[0] == 0x2001 && (segments[1] < 0x0200 || segments[1] == 0xdb8))
        // SRv6 SIDs 5f00::/16
        || segments[0] == 0x5f00
        // Discard-only 100::/64
        || (segments[0] == 0x100 && segments[1..4].iter().all(|s| *s == 0))
}

/// Why a URL is refused as an endpoint, before any resolution: the scheme, credentials in it, a missing
/// host, or a host that is a disallowed address or names this machine.
pub fn url_problem(url: &url::Url, allow_http: bool, allow_private: bool) -> Option<String> {
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Some("must be an https URL".to_owned()),
        _ => return Some("must be an https URL".to_owned()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not hold a user name or password; authenticate with the signature".to_owned());
    }
    if url.fragment().is_some() {
        return Some("must not have a fragment".to_owned());
    }
    let forbidden = match url.host() {
        None => return Some("must have a host".to_owned()),
        Some(url::Host::Ipv4(ip)) => is_forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_forbidden(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    (forbidden && !allow_private).then(|| "must not point to a loopback, private or reserved address".to_owned())
}

/// The resolver deliveries use: the system's, keeping only the addresses deliveries may reach.
pub struct PublicOnlyResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (host, allow_private) = (name.as_str().to_owned(), self.allow_private);
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.into_iter().filter(|addr| allow_private || !is_forbidden(addr.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(DisallowedAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl PublicOnlyResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(Self { allow_private })
    }
}

/// A host that resolves only to addresses deliveries may not reach.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to loopback, private or reserved addresses")]
pub struct DisallowedAddress(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(text: &str) -> bool {
        is_forbidden(text.parse().unwrap_or_else(|_| panic!("{text}")))
    }

    #[test]
    fn inside_addresses_are_forbidden_in_every_spelling() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "240.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.0.192",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "ff02::1",
            "fec0::1",
        ] {
            assert!(forbidden(ip), "{ip} must be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14", "100.128.0.1"] {
            assert!(!forbidden(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_need_https_no_credentials_and_a_public_host() {
        let problem = |text: &str, http, private| {
            url_problem(&url::Url::parse(text).unwrap_or_else(|_| panic!("{text}")), http, private)
        };
        assert!(problem("https://example.com/hook", false, false).is_none());
        assert!(problem("http://example.com/hook", false, false).is_some());
        assert!(problem("http://example.com/hook", true, false).is_none());
        assert!(problem("https://user:pw@example.com/", false, false).is_some());
        assert!(problem("https://127.0.0.1/", false, false).is_some());
        assert!(problem("https://[::ffff:7f00:1]/", false, false).is_some());
        assert!(problem("https://localhost./", false, false).is_some());
        assert!(problem("http://127.0.0.1:9/", true, true).is_none());
        assert!(problem("ftp://example.com/", true, true).is_some());
    }
}
