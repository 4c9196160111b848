//! Operator ops: playlist edits (answered once durable) and playout actions (queued on their
//! layer's lane and answered when CasparCG has answered), each with a result or a typed error.

use super::lanes::{Action, Intent};
use super::staging::Durable;
use super::*;
use crate::playout::change::Change;
use crate::playout::engine::state::Status;
use crate::playout::engine::transport;
use crate::playout::engine::{NewItem, Op};
use crate::playout::model::ItemFields;
use crate::playout::model::{new_item_id, slug};

/// A checked edit ready for disk, with what its op answers once durable.
type Staged = Result<(Durable, OpResult), EngineError>;

impl Engine {
    /// Runs an op; `reply` is answered when it is done, which for playout actions and edits is
    /// after this returns (the loop goes on meanwhile).
    pub(super) async fn op(&mut self, op: Op, reply: Reply) {
        let leader_only =
            (self.replica.is_some() && is_edit(&op)) || (self.drive.is_some() && is_playout(&op));
        if leader_only && !self.may_drive() {
            // Cluster mode: only the leader drives the servers and appends to the station's
            // journal; said before anything else (not "nothing to take" on a follower).
            let _ = reply.send(Err(EngineError::NotLeader));
            return;
        }
        let checked = match op {
            Op::PlaylistCreate {
                name,
                channel_layer,
                server,
            } => self.create(name, channel_layer, server),
            Op::PlaylistDelete { playlist } => self.delete(&playlist),
            Op::PlaylistSelect { playlist } => {
                let _ = reply.send(self.select(playlist));
                return;
            }
            Op::PlaylistRename { playlist, name } => {
                self.settings(playlist, |p| p.name = name.clone())
            }
            Op::PlaylistLoop { playlist, enabled } => {
                self.settings(playlist, |p| p.looping = enabled)
            }
            Op::Autoplay { playlist, enabled } => self.settings(playlist, |p| p.autoplay = enabled),
            Op::PlaylistUpdate {
                playlist,
                name,
                looping,
                air_date,
                filler,
                end_action,
                logo,
            } => self.settings(playlist, |p| {
                if let Some(logo) = logo {
                    p.logo = logo;
                }
                if let Some(filler) = filler {
                    p.filler = filler;
                }
                if let Some(end_action) = end_action {
                    p.end_action = end_action;
                }
                if let Some(name) = name {
                    p.name = name;
                }
                if let Some(looping) = looping {
                    p.looping = looping;
                }
                if let Some(air_date) = air_date {
                    p.air_date = air_date;
                }
            }),
            Op::ItemAdd {
                playlist,
                item,
                index,
            } => self.add(playlist, item, index),
            Op::ItemMove {
                playlist,
                item,
                index,
            } => self.move_item(playlist, item, index),
            Op::ItemRemove { playlist, item } => self.remove(playlist, item),
            Op::ItemUpdate {
                playlist,
                item,
                fields,
            } => self.update(playlist, item, &fields),
            Op::Skip { playlist } => {
                let _ = reply.send(self.skip(playlist));
                return;
            }
            Op::Cue { playlist, item } => return self.cue(playlist, item, reply),
            Op::Take { playlist, item } => return self.take(playlist, item, "take", reply),
            Op::Next { playlist } => return self.take(playlist, None, "next", reply),
            Op::Previous { playlist } => return self.previous(playlist, reply),
            Op::Stop { playlist } => return self.simple(playlist, Action::Stop, reply),
            Op::Pause { playlist } => return self.simple(playlist, Action::Pause, reply),
            Op::Resume { playlist } => return self.simple(playlist, Action::Resume, reply),
            Op::Clear { playlist } => return self.simple(playlist, Action::Clear, reply),
            Op::MediaRescan => return self.start_rescan(Some(reply)),
            Op::Graphics { playlist, action } => return self.graphics_op(playlist, action, reply),
            Op::Ping => {
                let _ = reply.send(Ok(OpResult::default()));
                return;
            }
        };
        // Edits: staged, then applied and answered once durable.
        match checked {
            Ok((what, result)) => self.stage(what, Some(reply), result).await,
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// The playlist an op addresses (`None`: the selected one).
    pub(super) fn playlist(&self, id: Option<&str>) -> Result<&Playlist, EngineError> {
        let id = id
            .or(self.selected.as_deref())
            .ok_or_else(|| PlaylistError::PlaylistNotFound(String::new()))?;
        self.playlists
            .get(id)
            .ok_or_else(|| PlaylistError::PlaylistNotFound(id.to_owned()).into())
    }

    /// A change of one staged playlist, checked by applying it to the staged copy.
    fn change(
        &mut self,
        playlist: Option<String>,
        change: impl FnOnce(&Playlist) -> Result<Change, EngineError>,
    ) -> Staged {
        let p = self.staged(playlist.as_deref())?;
        let id = p.id.clone();
        let change = change(p)?;
        let item = change.item_id().map(str::to_owned);
        let revision = p.revision + 1;
        let limits = self.limits;
        if let Some(p) = self.staging.playlists.get_mut(&id) {
            p.apply(&change, revision, &limits)?;
        }
        let result = OpResult {
            playlist: Some(id.clone()),
            item,
            clips: None,
        };
        let what = Durable::Edit {
            playlist: id,
            revision,
            change,
        };
        Ok((what, result))
    }

    /// Name, loop, autoplay, air date, filler role and end action: one settings change.
    fn settings(&mut self, playlist: Option<String>, set: impl FnOnce(&mut Playlist)) -> Staged {
        let p = self.staged(playlist.as_deref())?;
        let mut s = Playlist::new(p.id.clone(), p.name.clone(), p.channel_layer);
        s.server.clone_from(&p.server);
        s.looping = p.looping;
        s.autoplay = p.autoplay;
        s.air_date.clone_from(&p.air_date);
        s.filler = p.filler;
        s.end_action = p.end_action;
        s.logo.clone_from(&p.logo);
        set(&mut s);
        // Checked before the staged copy changes: a refused op leaves nothing behind.
        if s.filler.is_some() {
            self.one_filler_per_layer(&s)?;
        }
        let change = Change::PlaylistSettings {
            name: s.name,
            looping: s.looping,
            autoplay: s.autoplay,
            air_date: s.air_date,
            filler: s.filler,
            end_action: s.end_action,
            logo: s.logo,
        };
        self.change(playlist, |_| Ok(change))
    }

    /// A layer has at most one filler: the gaps must have one answer.
    fn one_filler_per_layer(&self, filler: &Playlist) -> Result<(), EngineError> {
        let cl = filler.channel_layer;
        // On the same server: no `server` and the first server's name are the same layer.
        let group = self.group_named(filler.server.as_deref());
        let other = self.staging.playlists.values().find(|p| {
            p.id != filler.id
                && p.channel_layer == cl
                && self.group_named(p.server.as_deref()) == group
                && p.filler.is_some()
        });
        match other {
            Some(o) => Err(PlaylistError::Invalid {
                field: "filler",
                reason: format!(
                    "playlist {:?} is already the filler of layer {cl}; a layer has one filler",
                    o.id
                ),
            }
            .into()),
            None => Ok(()),
        }
    }

    fn select(&mut self, playlist: String) -> Result<OpResult, EngineError> {
        self.playlist(Some(&playlist))?;
        self.selected = Some(playlist.clone());
        self.persistence.state_dirty = true;
        self.publish(EventKind::Selected {
            playlist: playlist.clone(),
        });
        Ok(OpResult {
            playlist: Some(playlist),
            ..OpResult::default()
        })
    }

    fn create(
        &mut self,
        name: String,
        channel_layer: Option<ChannelLayer>,
        server: Option<String>,
    ) -> Staged {
        if self.staging.playlists.len() >= self.limits.max_playlists {
            return Err(PlaylistError::TooManyPlaylists {
                max: self.limits.max_playlists,
            }
            .into());
        }
        let base = slug(&name);
        let mut id = base.clone();
        let mut n = 2;
        while self.staging.playlists.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let cl = channel_layer.unwrap_or(self.config.default_channel_layer);
        let mut playlist = Playlist::new(id.clone(), name, cl);
        playlist.server = server;
        playlist.validate(&self.limits)?;
        self.check_server(&playlist)?;
        self.staging.playlists.insert(id.clone(), playlist.clone());
        let result = OpResult {
            playlist: Some(id),
            ..OpResult::default()
        };
        Ok((Durable::Create(playlist), result))
    }

    fn delete(&mut self, id: &str) -> Staged {
        self.staged(Some(id))?;
        if self
            .playout
            .get(id)
            .is_some_and(|p| p.on_air().is_some() && p.status() != Status::Stopped)
        {
            return Err(EngineError::PlaylistOnAir);
        }
        self.staging.playlists.remove(id);
        let result = OpResult {
            playlist: Some(id.to_owned()),
            ..OpResult::default()
        };
        Ok((Durable::Delete(id.to_owned()), result))
    }

    fn add(&mut self, playlist: Option<String>, new: NewItem, index: Option<usize>) -> Staged {
        let mut item = Item::new(new_item_id(), new.clip);
        item.title = new.title.filter(|t| !t.is_empty());
        item.transition = new.transition.unwrap_or_default();
        item.looping = new.looping;
        item.in_point = new.in_point;
        item.out_point = new.out_point;
        item.scheduled = new.scheduled;
        item.start = new.start.unwrap_or_default();
        item.at = new.at;
        if let Some(g) = new.graphics {
            item.graphics = g;
        }
        let media = self
            .staged(playlist.as_deref())
            .map(|p| self.media_of(p))
            .unwrap_or_default();
        fill_from_media(&media, &mut item);
        let item = Arc::new(item);
        self.change(playlist, |p| {
            Ok(Change::ItemAdded {
                index: index.unwrap_or(p.items.len()),
                item,
            })
        })
    }

    fn move_item(&mut self, playlist: Option<String>, item: String, index: usize) -> Staged {
        self.change(playlist, |p| {
            let from = p
                .index_of(&item)
                .ok_or_else(|| PlaylistError::ItemNotFound(item.clone()))?;
            Ok(Change::ItemMoved { item, from, index })
        })
    }

    fn update(&mut self, playlist: Option<String>, item: String, fields: &ItemFields) -> Staged {
        let media = self
            .staged(playlist.as_deref())
            .map(|p| self.media_of(p))
            .unwrap_or_default();
        self.change(playlist, |p| {
            let index = p
                .index_of(&item)
                .ok_or_else(|| PlaylistError::ItemNotFound(item.clone()))?;
            let mut new = (*p.items[index]).clone();
            new.apply(fields)?;
            fill_from_media(&media, &mut new);
            Ok(Change::ItemUpdated {
                index,
                item: Arc::new(new),
            })
        })
    }

    fn remove(&mut self, playlist: Option<String>, item: String) -> Staged {
        let id = self.staged(playlist.as_deref())?.id.clone();
        if self
            .playout
            .get(&id)
            .is_some_and(|p| p.on_air() == Some(item.as_str()) && p.status() != Status::Stopped)
        {
            return Err(EngineError::ItemOnAir);
        }
        self.change(Some(id), |p| {
            let index = p
                .index_of(&item)
                .ok_or_else(|| PlaylistError::ItemNotFound(item.clone()))?;
            Ok(Change::ItemRemoved { item, index })
        })
    }

    /// The next take plays the item after the next one; nothing is sent until the re-arm.
    fn skip(&mut self, playlist: Option<String>) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let next = self.next_of(&id).ok_or(EngineError::NothingToSkip)?;
        let after = transport::next_after(&self.playlists[&id], Some(&next));
        self.runtime(&id).skip_to(after);
        self.persistence.state_dirty = true;
        self.rearm(&id);
        self.publish_playout(&id);
        Ok(OpResult {
            playlist: Some(id),
            item: Some(next),
            clips: None,
        })
    }

    /// Checks a playout action against the state now and queues it, or answers the error at once.
    fn queue(&mut self, checked: Result<(String, Intent), EngineError>, reply: Reply) {
        match checked {
            Ok((id, intent)) => self.enqueue(&id, intent, Some(reply)),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn cue(&mut self, playlist: Option<String>, item: Option<String>, reply: Reply) {
        let checked = (|| {
            let id = self.playlist(playlist.as_deref())?.id.clone();
            let target = match item {
                Some(i) => i,
                None => self.next_of(&id).ok_or(EngineError::NothingToCue)?,
            };
            self.check_item(&id, &target)?;
            Ok((id.clone(), Intent::Cue { id, target }))
        })();
        self.queue(checked, reply);
    }

    fn take(
        &mut self,
        playlist: Option<String>,
        item: Option<String>,
        how: &'static str,
        reply: Reply,
    ) {
        let checked = (|| {
            let id = self.playlist(playlist.as_deref())?.id.clone();
            let cued = self.playout.get(&id).and_then(Runtime::cued);
            let target = match item {
                Some(i) => i,
                None => cued
                    .map(str::to_owned)
                    .or_else(|| self.next_of(&id))
                    .ok_or(EngineError::NothingToTake)?,
            };
            self.check_item(&id, &target)?;
            Ok((id.clone(), Intent::Take { id, target, how }))
        })();
        self.queue(checked, reply);
    }

    fn previous(&mut self, playlist: Option<String>, reply: Reply) {
        let checked = (|| {
            let id = self.playlist(playlist.as_deref())?.id.clone();
            let on_air = self.playout.get(&id).and_then(Runtime::on_air);
            let target = transport::previous_before(&self.playlists[&id], on_air)
                .ok_or(EngineError::NoPreviousItem)?;
            let how = "previous";
            Ok((id.clone(), Intent::Take { id, target, how }))
        })();
        self.queue(checked, reply);
    }

    /// STOP, PAUSE, RESUME, CLEAR: one command on the playlist's layer, then the new status.
    fn simple(&mut self, playlist: Option<String>, action: Action, reply: Reply) {
        let checked = self
            .playlist(playlist.as_deref())
            .map(|p| p.id.clone())
            .map(|id| (id.clone(), Intent::Simple { id, action }));
        self.queue(checked, reply);
    }

    fn check_item(&self, id: &str, item: &str) -> Result<(), EngineError> {
        match self.playlists.get(id).and_then(|pl| pl.item(item)) {
            Some(_) => Ok(()),
            None => Err(PlaylistError::ItemNotFound(item.to_owned()).into()),
        }
    }
}

/// Whether `op` changes the playlists (in cluster mode, only the leader's may).
fn is_edit(op: &Op) -> bool {
    matches!(
        op,
        Op::PlaylistCreate { .. }
            | Op::PlaylistDelete { .. }
            | Op::PlaylistRename { .. }
            | Op::PlaylistLoop { .. }
            | Op::Autoplay { .. }
            | Op::PlaylistUpdate { .. }
            | Op::ItemAdd { .. }
            | Op::ItemMove { .. }
            | Op::ItemRemove { .. }
            | Op::ItemUpdate { .. }
    )
}

/// Whether `op` changes playout (in cluster mode, only the leader's may).
fn is_playout(op: &Op) -> bool {
    matches!(
        op,
        Op::Cue { .. }
            | Op::Take { .. }
            | Op::Next { .. }
            | Op::Previous { .. }
            | Op::Stop { .. }
            | Op::Pause { .. }
            | Op::Resume { .. }
            | Op::Clear { .. }
            | Op::Skip { .. }
            | Op::Graphics { .. }
    )
}
