//! A playlist's items: a persistent vector of shared items whose slots also carry a hash of the
//! item's id.
//!
//! Two costs must not grow with the rundown (docs/benchmarks.md, rundown-scale edits): copying a
//! playlist (every snapshot, the engine's staged copy) and finding an item by id (every edit, every
//! re-arm). The persistent vector makes a copy O(1) and a positional edit O(log n). Finding by id is
//! still a scan, but the hash sits in the vector's own chunks, so the scan reads one compact array
//! instead of following two pointers per item into the heap (a 10,000-item scan that chased
//! pointers was half of the daemon's CPU while adding items).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::model::Item;

/// The items of a playlist, in rundown order.
pub type Items = imbl::Vector<Slot>;

/// One item of a rundown: the shared item and the hash of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    key: u64,
    item: Arc<Item>,
}

impl Slot {
    pub fn new(item: Arc<Item>) -> Self {
        Slot {
            key: key(&item.id),
            item,
        }
    }

    /// The shared item (cloning it costs a reference count, never a copy).
    pub fn item(&self) -> &Arc<Item> {
        &self.item
    }

    /// True when this slot holds the item with this id and `key` (`key(id)`).
    fn is(&self, key: u64, id: &str) -> bool {
        self.key == key && self.item.id == id
    }
}

impl Deref for Slot {
    type Target = Item;

    fn deref(&self) -> &Item {
        &self.item
    }
}

impl From<Arc<Item>> for Slot {
    fn from(item: Arc<Item>) -> Self {
        Slot::new(item)
    }
}

impl From<Item> for Slot {
    fn from(item: Item) -> Self {
        Slot::new(Arc::new(item))
    }
}

/// On the wire and on disk a slot is just its item.
impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.item.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Item::deserialize(d).map(Slot::from)
    }
}

/// The hash the slots carry: deterministic (std's SipHash with fixed keys), so two copies of a
/// playlist agree; equal ids always give equal keys, and a key match is confirmed on the id.
pub fn key(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Position of the item with this id.
///
/// Scanned leaf by leaf: each leaf is a plain slice of slots, so the loop is a compare of adjacent
/// keys, where the vector's element iterator walks the tree for every element (a profile of
/// `item.update`s on a 10,000-item rundown found that walk costing more than the compares).
pub fn position(items: &Items, id: &str) -> Option<usize> {
    let k = key(id);
    let mut before = 0;
    for leaf in items.leaves() {
        if let Some(at) = leaf.iter().position(|s| s.is(k, id)) {
            return Some(before + at);
        }
        before += leaf.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaves of an edited vector differ in size (inserts and removes in the middle split and merge
    /// them): the leaf scan finds every item where the element order has it.
    #[test]
    fn the_leaf_scan_agrees_with_the_order_after_edits() {
        let mut items: Items = (0..3_000)
            .map(|i| Slot::from(Item::new(format!("i{i}"), "CLIP")))
            .collect();
        let mut rng = fastrand::Rng::with_seed(14);
        for n in 0..2_000 {
            let at = rng.usize(..=items.len());
            if n % 3 == 0 && !items.is_empty() {
                items.remove(at.min(items.len() - 1));
            } else {
                items.insert(at, Slot::from(Item::new(format!("n{n}"), "CLIP")));
            }
        }
        assert!(items.leaves().count() > 1);
        for (at, slot) in items.iter().enumerate() {
            assert_eq!(position(&items, &slot.id), Some(at));
        }
        assert_eq!(position(&items, "absent"), None);
    }

    #[test]
    fn a_slot_is_found_by_id_and_travels_as_its_item() {
        let items: Items = ["a", "b", "c"]
            .into_iter()
            .map(|id| Slot::from(Item::new(id.to_owned(), "CLIP")))
            .collect();
        assert_eq!(position(&items, "b"), Some(1));
        assert_eq!(position(&items, "z"), None);
        let json = serde_json::to_string(&items[1]).unwrap();
        assert_eq!(json, serde_json::to_string(items[1].item()).unwrap());
        let back: Slot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, items[1], "the key is recomputed on the way in");
    }
}
