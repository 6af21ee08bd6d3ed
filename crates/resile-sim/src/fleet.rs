//! The simulated device directory and the per-device command queues.
//!
//! Queues drain lazily: each device keeps a fill level and the instant it was last
//! updated, and the level drops by `drain_per_second` times the time elapsed whenever the
//! device is touched. No task runs per device, so a fleet of thousands costs nothing
//! while idle.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Bound;

use serde_json::{Value, json};
use tokio::time::Instant;

/// How many executed commands and creates are remembered to spot duplicates; past
/// this, new executions are no longer remembered (duplicates may be undercounted).
const REMEMBERED: usize = 1 << 20;

/// The fixed prefix of seeded device ids (16 hex digits; the index fills the rest).
pub(crate) const SEEDED_PREFIX: &str = "0161b8e8a2d10a58";
/// The prefix of ids the simulator assigns to created devices.
const CREATED_PREFIX: &str = "0161b8e8a2d10a59";

#[derive(Debug)]
struct Device {
    name: String,
    online: bool,
    level: f64,
    at: Instant,
}

/// Devices, queues and the memory of what was executed.
#[derive(Debug)]
pub(crate) struct Fleet {
    devices: BTreeMap<String, Device>,
    capacity: u32,
    drain_per_second: f64,
    created: u64,
    commands_done: HashSet<u64>,
    creates_done: HashSet<u64>,
}

/// Why a command was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    NotFound,
    Offline,
    Full,
}

/// A queued command: the queue's depth after it, and whether the same
/// `(device, async-id)` had been executed before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queued {
    pub(crate) depth: u32,
    pub(crate) duplicate: bool,
}

/// Why a device was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotCreated {
    Duplicate,
    Cap,
}

/// The id of seeded device `index`.
pub(crate) fn seeded_id(index: usize) -> String {
    format!("{SEEDED_PREFIX}{index:016x}")
}

fn fingerprint(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl Fleet {
    /// `count` seeded devices; `offline` ones disconnected, `full` ones with full queues.
    pub(crate) fn new(
        count: usize,
        offline: &HashSet<String>,
        full: &HashSet<String>,
        capacity: u32,
        drain_per_second: f64,
        now: Instant,
    ) -> Self {
        let mut devices = BTreeMap::new();
        for index in 0..count {
            let id = seeded_id(index);
            let device = Device {
                name: format!("device-{index:05}"),
                online: !offline.contains(&id),
                level: if full.contains(&id) {
                    f64::from(capacity)
                } else {
                    0.0
                },
                at: now,
            };
            devices.insert(id, device);
        }
        Self {
            devices,
            capacity,
            drain_per_second,
            created: 0,
            commands_done: HashSet::new(),
            creates_done: HashSet::new(),
        }
    }

    /// How many devices exist.
    pub(crate) fn len(&self) -> usize {
        self.devices.len()
    }

    /// A page of devices with ids after `after`, and whether more follow.
    pub(crate) fn page(&self, after: Option<&str>, limit: usize) -> (Vec<Value>, bool) {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut iter = self
            .devices
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|(id, d)| device_json(id, d));
        let data: Vec<Value> = iter.by_ref().take(limit).collect();
        (data, iter.next().is_some())
    }

    /// One device as JSON.
    pub(crate) fn get(&self, id: &str) -> Option<Value> {
        self.devices.get(id).map(|d| device_json(id, d))
    }

    /// Creates a device. A create without an id whose exact body was executed before is
    /// a duplicate execution (second return value).
    pub(crate) fn create(
        &mut self,
        id: Option<String>,
        name: String,
        body: &str,
        cap: Option<usize>,
        now: Instant,
    ) -> Result<(Value, bool), NotCreated> {
        if id.as_ref().is_some_and(|id| self.devices.contains_key(id)) {
            return Err(NotCreated::Duplicate);
        }
        if cap.is_some_and(|cap| self.devices.len() >= cap) {
            return Err(NotCreated::Cap);
        }
        let duplicate = id.is_none() && !remember(&mut self.creates_done, fingerprint(&[body]));
        let id = id.unwrap_or_else(|| {
            self.created += 1;
            format!("{CREATED_PREFIX}{:016x}", self.created)
        });
        let device = Device {
            name,
            online: true,
            level: 0.0,
            at: now,
        };
        let json = device_json(&id, &device);
        self.devices.insert(id, device);
        Ok((json, duplicate))
    }

    /// Queues a command for device `id`.
    pub(crate) fn enqueue(
        &mut self,
        id: &str,
        async_id: &str,
        now: Instant,
    ) -> Result<Queued, Refused> {
        let device = self.devices.get_mut(id).ok_or(Refused::NotFound)?;
        if !device.online {
            return Err(Refused::Offline);
        }
        let elapsed = now.saturating_duration_since(device.at).as_secs_f64();
        device.level = (device.level - elapsed * self.drain_per_second).max(0.0);
        device.at = now;
        if device.level + 1.0 > f64::from(self.capacity) + 1e-9 {
            return Err(Refused::Full);
        }
        device.level += 1.0;
        let depth = device.level.ceil() as u32;
        let duplicate = !remember(&mut self.commands_done, fingerprint(&[id, async_id]));
        Ok(Queued { depth, duplicate })
    }

    /// Connects or disconnects device `id`; false if there is no such device.
    pub(crate) fn set_online(&mut self, id: &str, online: bool) -> bool {
        self.devices
            .get_mut(id)
            .map(|d| d.online = online)
            .is_some()
    }
}

/// Inserts `key`; false if it was already there. Stops remembering past [`REMEMBERED`].
fn remember(set: &mut HashSet<u64>, key: u64) -> bool {
    if set.contains(&key) {
        return false;
    }
    if set.len() < REMEMBERED {
        set.insert(key);
    }
    true
}

fn device_json(id: &str, d: &Device) -> Value {
    json!({
        "object": "device",
        "id": id,
        "name": d.name,
        "endpoint_name": d.name,
        "state": "registered",
        "lifecycle_status": "enabled",
        "created_at": "2024-01-01T00:00:00.000Z",
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fleet(now: Instant) -> Fleet {
        let offline = HashSet::from([seeded_id(2)]);
        let full = HashSet::from([seeded_id(1)]);
        Fleet::new(3, &offline, &full, 3, 1.0, now)
    }

    #[test]
    fn ids_are_32_hex_digits_in_order() {
        assert_eq!(seeded_id(10), "0161b8e8a2d10a58000000000000000a");
        let f = fleet(Instant::now());
        let (page, more) = f.page(None, 2);
        assert!(more);
        assert_eq!(page[1]["id"], seeded_id(1));
        let (page, more) = f.page(Some(&seeded_id(1)), 2);
        assert_eq!((page.len(), more), (1, false));
    }

    #[test]
    fn queue_fills_refuses_and_drains() {
        let t0 = Instant::now();
        let mut f = fleet(t0);
        let a = seeded_id(0);
        for (i, depth) in [1, 2, 3].into_iter().enumerate() {
            let q = f.enqueue(&a, &i.to_string(), t0).unwrap();
            assert_eq!(
                q,
                Queued {
                    depth,
                    duplicate: false
                }
            );
        }
        assert_eq!(f.enqueue(&a, "x", t0), Err(Refused::Full));
        assert_eq!(
            f.enqueue(&a, "x", t0 + Duration::from_millis(500)),
            Err(Refused::Full)
        );
        let q = f
            .enqueue(&a, "0", t0 + Duration::from_millis(1000))
            .unwrap();
        assert_eq!(
            q,
            Queued {
                depth: 3,
                duplicate: true
            }
        );
        assert_eq!(f.enqueue(&seeded_id(1), "y", t0), Err(Refused::Full));
        assert_eq!(f.enqueue(&seeded_id(2), "y", t0), Err(Refused::Offline));
        assert_eq!(f.enqueue("nope", "y", t0), Err(Refused::NotFound));
        assert!(f.set_online(&seeded_id(2), true));
        assert!(f.enqueue(&seeded_id(2), "y", t0).is_ok());
    }

    #[test]
    fn creates_conflict_cap_and_duplicate() {
        let t0 = Instant::now();
        let mut f = fleet(t0);
        let (dev, dup) = f
            .create(Some("abc".into()), "n".into(), "{}", None, t0)
            .unwrap();
        assert_eq!((dev["id"].as_str(), dup), (Some("abc"), false));
        assert_eq!(
            f.create(Some("abc".into()), "n".into(), "{}", None, t0),
            Err(NotCreated::Duplicate)
        );
        let (dev, dup) = f
            .create(None, "n".into(), "{\"name\":\"n\"}", None, t0)
            .unwrap();
        assert_eq!((dev["id"].as_str().map(str::len), dup), (Some(32), false));
        let (_, dup) = f
            .create(None, "n".into(), "{\"name\":\"n\"}", None, t0)
            .unwrap();
        assert!(dup);
        assert_eq!(f.len(), 6);
        assert_eq!(
            f.create(None, "m".into(), "{}", Some(6), t0),
            Err(NotCreated::Cap)
        );
    }
}
