//! [`Registry`]: a bounded map from keys to shared per-key state.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Values that can say whether forgetting them would lose anything.
pub trait Evict {
    /// Whether the value is in its resting state, so dropping it and starting afresh
    /// later changes no decision. Called under the registry's lock, only when it is full:
    /// keep it cheap and never call back into the registry.
    fn is_idle(&self) -> bool;
}

/// A bounded map from keys to shared values: one breaker per host, one wait per device.
///
/// Per-key state must not grow without limit: a fleet client may touch a million device
/// ids, and an attacker-controlled id in a URL should not be able to exhaust memory. A
/// [`Registry`] holds at most `capacity` entries. When it is full and a new key arrives,
/// it evicts about an eighth of the entries at once (at least one), the least recently
/// used first, so the cost of finding them (a linear scan and a selection) is paid once
/// per `capacity / 8` insertions: amortised O(1).
///
/// Eviction prefers entries that are cheap to forget. An entry is *busy* when its value
/// is still held outside the registry (an `Arc` in an in-flight request) or when the
/// registry's idle test says so; for values implementing [`Evict`], such as
/// [`CircuitBreaker`](crate::CircuitBreaker), [`Registry::idle_first`] uses
/// [`Evict::is_idle`], so an open breaker outlives a closed, healthy one. Idle entries go
/// first, oldest first; when there are too few, busy ones go too, oldest first: the
/// bound is hard. A forgotten key simply starts afresh the next time it is used.
///
/// ```
/// use std::num::NonZeroUsize;
/// use resile_policy::{CircuitBreaker, Registry};
///
/// let breakers: Registry<String, CircuitBreaker> =
///     Registry::idle_first(NonZeroUsize::new(1024).unwrap());
/// let host = "api.example.com".to_string();
/// let a = breakers.get_or_insert_with(&host, CircuitBreaker::default);
/// let b = breakers.get_or_insert_with(&host, || unreachable!("already there"));
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// ```
///
/// `Send + Sync` when `K` and `V` are; one mutex guards the map. Looking up an existing
/// key never allocates; inserting allocates the `Arc` (outside the lock) and the key.
pub struct Registry<K, V> {
    capacity: NonZeroUsize,
    idle: fn(&V) -> bool,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>, BuildHasherDefault<FxHasher>>,
    /// Bumped on every use, so `last_used` values are unique.
    tick: u64,
    /// Reused buffer of ranks for eviction; grows to `capacity` once.
    ranks: Vec<u64>,
}

struct Entry<V> {
    value: Arc<V>,
    last_used: u64,
    /// `last_used`, with the top bit set for busy entries: smaller goes first.
    rank: u64,
}

const BUSY: u64 = 1 << 63;

impl<K: Hash + Eq + Clone, V> Registry<K, V> {
    /// A registry evicting least recently used entries first, keeping values that are
    /// still held elsewhere when it can.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self::with_idle(capacity, |_| true)
    }

    /// A registry that also keeps entries for which `idle` returns `false` when it can.
    pub fn with_idle(capacity: NonZeroUsize, idle: fn(&V) -> bool) -> Self {
        Self {
            capacity,
            idle,
            inner: Mutex::new(Inner {
                map: HashMap::default(),
                tick: 0,
                ranks: Vec::new(),
            }),
        }
    }

    /// The value for `key`, made by `make` and inserted if absent.
    ///
    /// `make` runs outside the lock; if another thread inserts the key meanwhile, its
    /// value wins and this one is dropped, so every caller gets the same `Arc`.
    pub fn get_or_insert_with(&self, key: &K, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some(value) = self.get(key) {
            return value;
        }
        let value = Arc::new(make());
        let mut inner = self.lock();
        if let Some(existing) = inner.touch(key) {
            return existing;
        }
        if inner.map.len() >= self.capacity.get() {
            let count = (self.capacity.get() / 8).max(1);
            inner.evict(count, self.idle);
        }
        let tick = inner.next_tick();
        let entry = Entry {
            value: Arc::clone(&value),
            last_used: tick,
            rank: 0,
        };
        inner.map.insert(key.clone(), entry);
        value
    }

    /// [`get_or_insert_with`](Self::get_or_insert_with) by a borrowed key (`&str`
    /// for `String` keys): the owned key is made only when inserting, so a lookup
    /// of a present key allocates nothing.
    pub fn get_or_insert_by<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        match self.get(key) {
            Some(value) => value,
            None => self.get_or_insert_with(&key.to_owned(), make),
        }
    }

    /// The value for `key`, if present; counts as a use.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().touch(key)
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().map.remove(key).map(|e| e.value)
    }

    /// Entries held now; never more than [`capacity`](Self::capacity).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the registry holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries it will hold.
    pub const fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.lock().map.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // Nothing panics while the lock is held except a user's `idle` function; the map
        // stays consistent even then.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq + Clone, V: Evict> Registry<K, V> {
    /// A registry that keeps busy values (per [`Evict::is_idle`]) when it can.
    pub fn idle_first(capacity: NonZeroUsize) -> Self {
        Self::with_idle(capacity, V::is_idle)
    }
}

impl<K: Hash + Eq, V> Inner<K, V> {
    fn next_tick(&mut self) -> u64 {
        self.tick = (self.tick + 1) & !BUSY;
        self.tick
    }

    fn touch<Q>(&mut self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let tick = self.next_tick();
        let entry = self.map.get_mut(key)?;
        entry.last_used = tick;
        Some(Arc::clone(&entry.value))
    }

    /// Removes the `count` lowest-ranked entries: idle before busy, older before newer.
    fn evict(&mut self, count: usize, idle: fn(&V) -> bool) {
        self.ranks.clear();
        for entry in self.map.values_mut() {
            let held = Arc::strong_count(&entry.value) > 1;
            let busy = held || !idle(&entry.value);
            entry.rank = entry.last_used | if busy { BUSY } else { 0 };
            self.ranks.push(entry.rank);
        }
        let count = count.min(self.ranks.len());
        if count == 0 {
            return;
        }
        // Ranks are unique (ticks are), so exactly `count` entries rank at or below.
        let (_, cutoff, _) = self.ranks.select_nth_unstable(count - 1);
        let cutoff = *cutoff;
        self.map.retain(|_, entry| entry.rank > cutoff);
    }
}

impl<K, V> fmt::Debug for Registry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self
            .inner
            .lock()
            .map_or_else(|e| e.into_inner().map.len(), |i| i.map.len());
        f.debug_struct("Registry")
            .field("len", &len)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn cap(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    #[test]
    fn bound_holds_for_a_million_distinct_keys() {
        let r: Registry<u64, u64> = Registry::new(cap(1024));
        for k in 0..1_000_000u64 {
            let v = r.get_or_insert_with(&k, || k * 2);
            assert_eq!(*v, k * 2);
            assert!(r.len() <= 1024, "len {} after key {k}", r.len());
        }
        // One eviction removes 1024 / 8 = 128 entries, so the registry stays nearly full.
        assert!(r.len() > 1024 - 128);
        // The newest key is there; the first ones are long gone.
        assert_eq!(r.get(&999_999).as_deref(), Some(&1_999_998));
        assert!(r.get(&0).is_none());
    }

    #[test]
    fn recently_used_keys_survive_eviction() {
        let r: Registry<u32, u32> = Registry::new(cap(16));
        for k in 0..16 {
            let _ = r.get_or_insert_with(&k, || k);
        }
        assert!(r.get(&0).is_some()); // 0 is now the most recently used
        let _ = r.get_or_insert_with(&16, || 16); // full: evicts 16 / 8 = 2
        assert_eq!(r.len(), 15);
        assert!(r.get(&0).is_some());
        assert!(r.get(&1).is_none() && r.get(&2).is_none());
        assert!((3..=16).all(|k| r.get(&k).is_some()));
    }

    struct Busy(AtomicBool);

    impl Evict for Busy {
        fn is_idle(&self) -> bool {
            !self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn busy_entries_are_kept_while_idle_ones_can_go() {
        let r: Registry<u32, Busy> = Registry::idle_first(cap(16));
        for k in 0..16 {
            let _ = r.get_or_insert_with(&k, || Busy(AtomicBool::new(k < 4)));
        }
        let _ = r.get_or_insert_with(&16, || Busy(AtomicBool::new(false)));
        // The two oldest idle entries (4, 5) went; the older busy ones (0..4) stayed.
        assert!((0..4).all(|k| r.get(&k).is_some()));
        assert!(r.get(&4).is_none() && r.get(&5).is_none());
        assert_eq!(r.len(), 15);
    }

    #[test]
    fn all_busy_still_evicts_the_oldest() {
        let r: Registry<u32, Busy> = Registry::idle_first(cap(8));
        for k in 0..8 {
            let _ = r.get_or_insert_with(&k, || Busy(AtomicBool::new(true)));
        }
        let _ = r.get_or_insert_with(&8, || Busy(AtomicBool::new(true)));
        assert_eq!(r.len(), 8); // 8 / 8 = 1 evicted, 1 inserted
        assert!(r.get(&0).is_none());
        assert!((1..=8).all(|k| r.get(&k).is_some()));
    }

    #[test]
    fn values_held_elsewhere_are_kept() {
        let r: Registry<u32, u32> = Registry::new(cap(8));
        let held = r.get_or_insert_with(&0, || 0);
        for k in 1..8 {
            let _ = r.get_or_insert_with(&k, || k);
        }
        let _ = r.get_or_insert_with(&8, || 8);
        assert!(r.get(&0).is_some(), "in use: kept");
        assert!(r.get(&1).is_none(), "oldest unused: evicted");
        assert_eq!(*held, 0);
    }

    #[test]
    fn get_remove_and_clear() {
        let r: Registry<String, u32> = Registry::new(cap(4));
        assert!(r.is_empty());
        assert!(r.get("a").is_none(), "a miss inserts nothing");
        assert!(r.is_empty());
        let _ = r.get_or_insert_with(&"a".to_string(), || 1);
        assert_eq!(r.get("a").as_deref(), Some(&1));
        assert_eq!(r.remove("a").as_deref(), Some(&1));
        assert!(r.remove("a").is_none());
        let _ = r.get_or_insert_with(&"b".to_string(), || 2);
        assert_eq!(r.len(), 1);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.capacity().get(), 4);
        assert_eq!(format!("{r:?}"), "Registry { len: 0, capacity: 4, .. }");
    }

    #[test]
    fn capacity_one_works() {
        let r: Registry<u32, u32> = Registry::new(cap(1));
        for k in 0..10 {
            assert_eq!(*r.get_or_insert_with(&k, || k), k);
            assert_eq!(r.len(), 1);
        }
    }

    #[test]
    fn concurrent_inserts_share_values_and_respect_the_bound() {
        let shared: Registry<u32, u32> = Registry::new(cap(4096));
        let bounded: Registry<u32, u32> = Registry::new(cap(64));
        let run = |offset: u32| {
            let mut got = Vec::new();
            for k in 0..2000 {
                got.push(shared.get_or_insert_with(&k, || k + offset));
                let _ = bounded.get_or_insert_with(&(k * 2 + offset), || k);
                assert!(bounded.len() <= 64);
            }
            got
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(0));
            let b = s.spawn(|| run(1));
            (a.join().unwrap(), b.join().unwrap())
        });
        // No eviction in `shared`: both threads got the one stored value for every key.
        assert!(a.iter().zip(&b).all(|(x, y)| Arc::ptr_eq(x, y)));
        assert_eq!(shared.len(), 2000);
        assert!(bounded.len() <= 64);
    }

    #[test]
    fn registry_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Registry<String, crate::CircuitBreaker>>();
    }
}

/// The Fx hash (as in rustc and Firefox): a multiply-rotate per word, several times
/// cheaper than the default SipHash on the short keys used here (host names,
/// device ids). It is not DoS-resistant; the keys come from the client's own
/// requests, and the map is bounded, so a pathological key set can slow lookups
/// but never grow memory.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}
