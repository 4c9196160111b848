//! An edit of a playlist as data: what the journal stores, what an item-level event carries, and
//! the one function that applies it.
//!
//! The engine turns an operator's op into a [`Change`] after validating it against the playlist
//! as it will be once every earlier edit is durable; the store appends it to the journal; once it
//! is durable the engine applies it to the published state and sends it to clients as an event;
//! recovery replays the journal with the same [`Playlist::apply`]; the console applies the events
//! with it too. One reducer, so the daemon's memory, its disk and every client's copy cannot
//! drift apart.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::fill::{EndAction, FillerMode};
use super::model::{Item, Items, Limits, Playlist, PlaylistError, Slot};

/// One edit of one playlist. Applying it sets the playlist's revision to the one it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// `item` was inserted at `index` (its position afterwards).
    ItemAdded { index: usize, item: Arc<Item> },
    /// The item with `item.id`, at `index`, now reads `item` (every field, not only the changed
    /// ones).
    ItemUpdated { index: usize, item: Arc<Item> },
    /// The item `item` moved from `from` to `index` (its position afterwards).
    ItemMoved {
        item: String,
        from: usize,
        index: usize,
    },
    /// The item `item`, at `index`, was removed.
    ItemRemoved { item: String, index: usize },
    /// The playlist's own settings.
    PlaylistSettings {
        name: String,
        #[serde(rename = "loop")]
        looping: bool,
        autoplay: bool,
        /// `YYYY-MM-DD`; left out when none (records written before air dates read as none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        air_date: Option<String>,
        /// Set when the playlist is its layer's filler.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filler: Option<FillerMode>,
        #[serde(default, skip_serializing_if = "EndAction::is_default")]
        end_action: EndAction,
        /// The standing logo (records written before logos read as none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        logo: Option<crate::playout::graphics::Logo>,
    },
}

impl Change {
    /// The item this change is about, if it is about one.
    pub fn item_id(&self) -> Option<&str> {
        match self {
            Change::ItemAdded { item, .. } | Change::ItemUpdated { item, .. } => Some(&item.id),
            Change::ItemMoved { item, .. } | Change::ItemRemoved { item, .. } => Some(item),
            Change::PlaylistSettings { .. } => None,
        }
    }
}

impl Playlist {
    /// Applies `change` and sets the revision to `revision`; on error nothing changed.
    ///
    /// Validation is the same as the op's, so a change that applied once applies again on the
    /// same playlist (journal replay), and a change that does not apply is refused whole.
    pub fn apply(
        &mut self,
        change: &Change,
        revision: u64,
        limits: &Limits,
    ) -> Result<(), PlaylistError> {
        match change {
            Change::ItemAdded { index, item } => {
                if self.items.len() >= limits.max_items {
                    return Err(PlaylistError::TooManyItems {
                        max: limits.max_items,
                    });
                }
                item.validate()?;
                self.validate_for_role(item)?;
                if self.index_of(&item.id).is_some() {
                    return Err(PlaylistError::Invalid {
                        field: "item",
                        reason: format!("duplicate item id {:?}", item.id),
                    });
                }
                let len = self.items.len();
                if *index > len {
                    return Err(PlaylistError::IndexOutOfRange { index: *index, len });
                }
                self.items.insert(*index, Slot::new(Arc::clone(item)));
            }
            Change::ItemUpdated { index, item } => {
                item.validate()?;
                self.validate_for_role(item)?;
                let at = self.locate(&item.id, *index)?;
                self.items.set(at, Slot::new(Arc::clone(item)));
            }
            Change::ItemMoved { item, from, index } => {
                let from = self.locate(item, *from)?;
                let len = self.items.len();
                if *index >= len {
                    return Err(PlaylistError::IndexOutOfRange { index: *index, len });
                }
                let it = self.items.remove(from);
                self.items.insert(*index, it);
            }
            Change::ItemRemoved { item, index } => {
                let at = self.locate(item, *index)?;
                self.items.remove(at);
            }
            Change::PlaylistSettings {
                name,
                looping,
                autoplay,
                air_date,
                filler,
                end_action,
                logo,
            } => {
                let mut next = self.clone_settings();
                if let Some(l) = logo {
                    l.validate(self.channel_layer.layer)?;
                }
                next.rename(name)?;
                next.air_date.clone_from(air_date);
                next.filler = *filler;
                next.end_action = *end_action;
                next.validate_role()?;
                if filler.is_some() && self.filler.is_none() {
                    for item in &self.items {
                        next.validate_for_role(item)?;
                    }
                }
                self.name = next.name;
                self.looping = *looping;
                self.autoplay = *autoplay;
                self.air_date.clone_from(air_date);
                self.filler = *filler;
                self.end_action = *end_action;
                self.logo.clone_from(logo);
            }
        }
        self.revision = revision;
        Ok(())
    }

    /// Where `item` is: at `hint` (the position the change was made at, so replaying a journal or
    /// following events costs no search), else wherever it is.
    fn locate(&self, item: &str, hint: usize) -> Result<usize, PlaylistError> {
        if self.items.get(hint).is_some_and(|i| i.id == item) {
            return Ok(hint);
        }
        self.index_of(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))
    }

    /// The playlist without its items (cheap), to validate settings on.
    fn clone_settings(&self) -> Playlist {
        Playlist {
            items: Items::new(),
            ..Playlist::new(self.id.clone(), self.name.clone(), self.channel_layer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amcp::ChannelLayer;

    fn playlist() -> Playlist {
        Playlist::new(
            "p",
            "P",
            ChannelLayer {
                channel: 1,
                layer: Some(10),
            },
        )
    }

    fn add(p: &mut Playlist, index: usize, id: &str, rev: u64) -> Result<(), PlaylistError> {
        let item = Arc::new(Item::new(id.to_owned(), "CLIP"));
        p.apply(&Change::ItemAdded { index, item }, rev, &Limits::default())
    }

    #[test]
    fn each_change_applies_and_sets_the_revision() {
        let mut p = playlist();
        add(&mut p, 0, "a", 1).unwrap();
        add(&mut p, 1, "b", 2).unwrap();
        add(&mut p, 0, "c", 3).unwrap();
        let ids = |p: &Playlist| p.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&p), ["c", "a", "b"]);
        let limits = Limits::default();
        let moved = Change::ItemMoved {
            item: "c".into(),
            from: 0,
            index: 2,
        };
        p.apply(&moved, 4, &limits).unwrap();
        assert_eq!(ids(&p), ["a", "b", "c"]);
        let mut b = Item::new("b".into(), "OTHER");
        b.title = Some("Bee".into());
        // A stale position hint still finds the item.
        let updated = Change::ItemUpdated {
            index: 0,
            item: b.into(),
        };
        p.apply(&updated, 5, &limits).unwrap();
        assert_eq!(p.item("b").unwrap().clip, "OTHER");
        let removed = Change::ItemRemoved {
            item: "a".into(),
            index: 0,
        };
        p.apply(&removed, 6, &limits).unwrap();
        assert_eq!(ids(&p), ["b", "c"]);
        let settings = Change::PlaylistSettings {
            name: "News".into(),
            looping: true,
            autoplay: false,
            air_date: Some("2025-03-30".into()),
            filler: None,
            end_action: EndAction::Black,
            logo: None,
        };
        p.apply(&settings, 7, &limits).unwrap();
        assert_eq!(p.end_action, EndAction::Black);
        assert_eq!(
            (p.name.as_str(), p.looping, p.autoplay),
            ("News", true, false)
        );
        assert_eq!(p.air_date.as_deref(), Some("2025-03-30"));
        assert_eq!(p.revision, 7);
    }

    #[test]
    fn a_change_that_does_not_apply_changes_nothing() {
        let mut p = playlist();
        add(&mut p, 0, "a", 1).unwrap();
        let before = p.clone();
        assert!(add(&mut p, 5, "x", 2).is_err(), "index out of range");
        assert!(add(&mut p, 0, "a", 2).is_err(), "duplicate id");
        let limits = Limits::default();
        let gone = Change::ItemRemoved {
            item: "zz".into(),
            index: 0,
        };
        assert!(p.apply(&gone, 2, &limits).is_err());
        let bad = Change::PlaylistSettings {
            name: " ".into(),
            looping: true,
            autoplay: true,
            air_date: None,
            filler: None,
            end_action: EndAction::Filler,
            logo: None,
        };
        assert!(p.apply(&bad, 2, &limits).is_err());
        let bad_date = Change::PlaylistSettings {
            name: "P".into(),
            looping: true,
            autoplay: true,
            air_date: Some("2025-02-30".into()),
            filler: None,
            end_action: EndAction::Filler,
            logo: None,
        };
        assert!(p.apply(&bad_date, 2, &limits).is_err());
        // A filler has no air date, and its clips no fixed times.
        let dated_filler = Change::PlaylistSettings {
            name: "P".into(),
            looping: true,
            autoplay: true,
            air_date: Some("2025-03-30".into()),
            filler: Some(FillerMode::Shuffle),
            end_action: EndAction::Filler,
            logo: None,
        };
        assert!(p.apply(&dated_filler, 2, &limits).is_err());
        let mut timed = Item::new("t".to_owned(), "CLIP");
        timed.start = crate::playout::timing::StartMode::Hard;
        timed.at = Some("18:00:00".into());
        let timed = Change::ItemAdded {
            index: 0,
            item: Arc::new(timed),
        };
        let mut q = p.clone();
        q.apply(&timed, 2, &limits).unwrap();
        let make_filler = Change::PlaylistSettings {
            name: "P".into(),
            looping: true,
            autoplay: true,
            air_date: None,
            filler: Some(FillerMode::InOrder),
            end_action: EndAction::Filler,
            logo: None,
        };
        let before_q = q.clone();
        let err = q.apply(&make_filler, 3, &limits).unwrap_err();
        assert!(err.to_string().contains("no fixed times"), "{err}");
        assert_eq!(q, before_q);
        p.apply(&make_filler, 2, &limits).unwrap();
        assert!(p.apply(&timed, 3, &limits).is_err());
        p = before.clone();
        assert_eq!(p, before);
    }
}
