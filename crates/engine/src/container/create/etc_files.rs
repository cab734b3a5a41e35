//! The container's `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, as
//! Docker writes them into the container's directory and binds them in.

use kujira_runtime::NetworkMode;

use crate::{Engine, EngineError};

/// `--dns`, `--dns-search`, `--dns-option`.
#[derive(Default)]
pub(crate) struct Dns {
    pub(crate) servers: Vec<String>,
    pub(crate) search: Vec<String>,
    pub(crate) options: Vec<String>,
}

impl Dns {
    /// `HostConfig.Dns`, `DnsSearch`, `DnsOptions`; every server an IP address.
    pub(crate) fn of(hc: &bollard_stubs::models::HostConfig) -> Result<Dns, EngineError> {
        let dns = Dns {
            servers: hc.dns.clone().unwrap_or_default(),
            search: hc.dns_search.clone().unwrap_or_default(),
            options: hc.dns_options.clone().unwrap_or_default(),
        };
        for s in &dns.servers {
            if s.parse::<std::net::IpAddr>().is_err() {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid argument \"{s}\" for \"--dns\" flag: {s} is not an ip address"
                )));
            }
        }
        Ok(dns)
    }

    /// `resolv.conf` on a user-defined network, as Docker writes it: the embedded
    /// server (which forwards to the `--dns` servers or the host's), the search
    /// domains and options asked for or the host's, and `ndots:0`.
    fn embedded_resolv_conf(&self, host: &str) -> String {
        let lines = |key: &str| -> Vec<String> {
            host.lines()
                .filter_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .collect()
        };
        let mut out = String::from("nameserver 127.0.0.11\n");
        let search = if self.search.is_empty() {
            lines("search ")
        } else {
            self.search.clone()
        };
        if !search.is_empty() {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        let mut options = if self.options.is_empty() {
            lines("options ")
        } else {
            self.options.clone()
        };
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
        out.push_str(&format!("options {}\n", options.join(" ")));
        out
    }

    /// The container's `resolv.conf`: the host's, with what was asked in place of
    /// its nameservers, search domains and options.
    fn resolv_conf(&self, host: &str) -> String {
        if self.servers.is_empty() && self.search.is_empty() && self.options.is_empty() {
            return host.to_string();
        }
        let lines = |key: &str| -> Vec<String> {
            host.lines()
                .filter_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .collect()
        };
        let pick = |asked: &[String], key: &str| {
            if asked.is_empty() {
                lines(key)
            } else {
                asked.to_vec()
            }
        };
        let mut out = String::new();
        for s in pick(&self.servers, "nameserver ") {
            out.push_str(&format!("nameserver {s}\n"));
        }
        let search = pick(&self.search, "search ");
        if !search.is_empty() {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        let options = pick(&self.options, "options ");
        if !options.is_empty() {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
        out
    }
}

impl Engine {
    /// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` of the container, as
    /// Docker writes them into its own directory and binds them in.
    #[allow(clippy::too_many_arguments)] // each is one of Docker's per-container files' inputs
    pub(crate) fn write_etc_files(
        &self,
        dir: &std::path::Path,
        id: &str,
        hostname: &str,
        net: NetworkMode,
        extra_hosts: &[(String, String)],
        dns: &Dns,
        embedded_dns: bool,
    ) -> Result<Vec<String>, EngineError> {
        if net == NetworkMode::Host {
            return Ok(["/etc/hosts", "/etc/resolv.conf"]
                .into_iter()
                .filter(|p| std::path::Path::new(p).exists())
                .map(|p| format!("{p}:{p}:ro"))
                .collect());
        }
        let host = if hostname.is_empty() {
            &id[..12]
        } else {
            hostname
        };
        let write = |name: &str, text: String| -> Result<String, EngineError> {
            let p = dir.join(name);
            std::fs::write(&p, text)
                .map_err(|e| EngineError::io(format!("writing {}", p.display()), e))?;
            Ok(format!("{}:/etc/{name}", p.display()))
        };
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        );
        for (name, ip) in extra_hosts {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        hosts.push_str(&format!("127.0.1.1\t{host}\n"));
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv = if embedded_dns {
            dns.embedded_resolv_conf(&host_resolv)
        } else {
            dns.resolv_conf(&host_resolv)
        };
        Ok(vec![
            write("hostname", format!("{host}\n"))?,
            write("hosts", hosts)?,
            write("resolv.conf", resolv)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::Dns;

    #[test]
    fn resolv_conf_takes_what_was_asked() {
        let host = "nameserver 10.0.0.1\nsearch corp.example\noptions ndots:1\n";
        let none = Dns {
            servers: vec![],
            search: vec![],
            options: vec![],
        };
        assert_eq!(none.resolv_conf(host), host);
        let asked = Dns {
            servers: vec!["1.1.1.1".into(), "9.9.9.9".into()],
            search: vec![],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            asked.resolv_conf(host),
            "nameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch corp.example\noptions ndots:2\n"
        );
    }
}
