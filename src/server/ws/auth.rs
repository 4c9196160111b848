//! Client slots for `/ws`: the total and per-address limits, counted before the upgrade. Origin and
//! token checks are in [`crate::server::access`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why a client was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_clients` reached (503).
    Total,
    /// `max_clients_per_ip` reached for this address (429).
    PerIp,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Client slots, taken before the upgrade and given back when the connection ends (or the upgrade
/// fails), so the limits also count connections that are still upgrading.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    counts: Mutex<Counts>,
}

/// A taken slot; dropping it frees it.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Counts change in one step under the lock, so a poisoned lock is still consistent.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for `ip` if both limits allow it.
    pub(crate) fn take(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<Slot, Refused> {
        let mut counts = self.lock();
        if counts.total >= max_total {
            return Err(Refused::Total);
        }
        let n = counts.per_ip.entry(ip).or_insert(0);
        if *n >= max_per_ip {
            return Err(Refused::PerIp);
        }
        *n += 1;
        counts.total += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_freed() {
        let slots = Arc::new(Slots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = slots.take(a, 3, 2).unwrap();
        let _s2 = slots.take(a, 3, 2).unwrap();
        assert_eq!(slots.take(a, 3, 2).unwrap_err(), Refused::PerIp);
        let _s3 = slots.take(b, 3, 2).unwrap();
        assert_eq!(slots.take(b, 3, 2).unwrap_err(), Refused::Total);
        drop(s1);
        assert!(slots.take(a, 3, 2).is_ok());
    }
}
