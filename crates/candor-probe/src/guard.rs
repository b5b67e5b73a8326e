//! The outbound guard: monitors may not reach private, loopback, link-local, unique-local,
//! CGNAT, multicast, unspecified or otherwise non-global addresses unless the monitor says
//! `allow_private = true`. It is applied to addresses *after* DNS resolution and on every
//! redirect hop, so a public name pointing at 127.0.0.1 or a redirect to
//! `http://169.254.169.254/` does not get through.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Whether `ip` is an ordinary public unicast address that monitors may reach by default.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 (embeds IPv4)
        || first == 0x2002 // 6to4 (embeds IPv4)
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// A refused address, with the name that led to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    /// The host name or literal that was asked for.
    pub host: String,
    /// The non-public address it resolved to.
    pub ip: IpAddr,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host == self.ip.to_string() {
            write!(f, "refused to connect to {}: ", self.ip)?;
        } else {
            write!(f, "refused to connect to {} ({}): ", self.host, self.ip)?;
        }
        write!(
            f,
            "it is a private, loopback or otherwise internal address; set allow_private = true on the monitor to probe internal targets"
        )
    }
}

/// Keeps the allowed addresses of a resolution, or says why none is.
/// `also_allow` lists internal addresses the operator trusts for every monitor.
pub fn filter(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
    also_allow: &[IpAddr],
) -> Result<Vec<SocketAddr>, Refused> {
    let mut refused = None;
    let mut kept = Vec::new();
    for addr in addrs {
        if allow_private || is_public(addr.ip()) || also_allow.contains(&addr.ip()) {
            kept.push(addr);
        } else if refused.is_none() {
            refused = Some(addr.ip());
        }
    }
    match (kept.is_empty(), refused) {
        (true, Some(ip)) => Err(Refused {
            host: host.to_owned(),
            ip,
        }),
        _ => Ok(kept),
    }
}

/// Resolves `host:port` (a name or an IP literal) and applies the guard.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
    also_allow: &[IpAddr],
) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("could not resolve {host}: {e}"))?
            .collect()
    };
    if addrs.is_empty() {
        return Err(format!("could not resolve {host}: no addresses"));
    }
    filter(host, addrs, allow_private, also_allow).map_err(|r| r.to_string())
}

/// A reqwest resolver that applies the guard to every name the client resolves.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    /// Whether private addresses are allowed (then this only resolves).
    pub allow_private: bool,
    /// Internal addresses allowed anyway.
    pub also_allow: Arc<[IpAddr]>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let also_allow = Arc::clone(&self.also_allow);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = filter(&host, addrs, allow_private, &also_allow)?;
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn internal_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            assert!(!public(ip), "{ip} should be refused");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(public(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn filter_keeps_public_addresses_and_explains_refusals() {
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:80".parse().unwrap(),
            "1.1.1.1:80".parse().unwrap(),
        ];
        assert_eq!(
            filter("x", addrs.clone(), false, &[]).unwrap(),
            vec![addrs[1]]
        );
        assert_eq!(filter("x", addrs.clone(), true, &[]).unwrap(), addrs);
        let err = filter("localhost", vec![addrs[0]], false, &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("refused to connect to localhost (127.0.0.1)"),
            "{err}"
        );
        assert!(err.to_string().contains("allow_private = true"));
    }
}
