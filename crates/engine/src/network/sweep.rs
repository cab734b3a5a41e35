//! Cleaning up after a crash. A lease whose container's monitor is gone (SIGKILL,
//! power loss) is stale: its DNAT elements, its veth and its row go. A veth of
//! kujira's with no lease behind it goes too. Every start sweeps the leases (cheap:
//! one query and a lock probe per lease); network commands sweep links as well.

use kujira_network::firewall;
use kujira_network::netlink::Netlink;

use super::endpoint::Live;
use crate::container::monitor_alive;
use crate::{Engine, EngineError};

impl Engine {
    /// Removes the leases of containers whose monitor is not running.
    pub(crate) fn sweep_leases(&self) -> Result<usize, EngineError> {
        let mut swept = 0;
        let mut nl = None;
        for row in self.store.meta.endpoints()? {
            if monitor_alive(&self.container_paths(&row.container_id)) {
                continue;
            }
            // A container still marked running is stopped for real on the way (its
            // orphaned process would hold the namespace).
            let _ = self.find_container(&row.container_id);
            let live: Live = serde_json::from_str(&row.config).unwrap_or_default();
            let rules = live.rules();
            if !rules.is_empty() {
                let _ = firewall::remove_ports(&rules);
            }
            if !live.veth.is_empty() {
                if nl.is_none() {
                    nl = Netlink::open().ok();
                }
                if let Some(nl) = nl.as_mut() {
                    let _ = nl.delete_link(&live.veth);
                }
            }
            self.store
                .meta
                .delete_endpoint(&row.network_id, &row.container_id)?;
            swept += 1;
        }
        Ok(swept)
    }

    /// [`Engine::sweep_leases`], then every `kv…` veth that no lease accounts for.
    /// Links are listed before leases are read: a start writes its lease before it
    /// makes its veth, so a link seen here whose lease is missing is really stale.
    pub fn sweep_endpoints(&self) -> Result<usize, EngineError> {
        let mut nl = Netlink::open()?;
        let links = nl.links()?;
        let mut swept = self.sweep_leases()?;
        let owned: Vec<String> = self
            .store
            .meta
            .endpoints()?
            .into_iter()
            .filter_map(|r| serde_json::from_str::<Live>(&r.config).ok())
            .map(|l| l.veth)
            .collect();
        let ours: Vec<String> = self
            .store
            .meta
            .containers()?
            .into_iter()
            .map(|c| c.id[..9].to_string())
            .collect();
        for (_, name) in links {
            // Only this store's containers' veths: another store on the host (a
            // second root) keeps its own.
            let mine = name.len() == 15
                && name.starts_with("kv")
                && ours.iter().any(|p| name[2..11] == *p);
            if mine && !owned.contains(&name) && nl.delete_link(&name)? {
                swept += 1;
            }
        }
        Ok(swept)
    }
}
