//! Operator ops: playlist edits (answered once durable) and playout actions (queued on their
//! layer's lane and answered when CasparCG has answered), each with a result or a typed error.

use super::lanes::{Action, Intent};
use super::*;
use crate::playout::engine::state::Status;
use crate::playout::engine::transport;
use crate::playout::engine::{NewItem, Op};
use crate::playout::model::{new_item_id, slug};

impl Engine {
    /// Runs an op; `reply` is answered when it is done, which for playout actions is after this
    /// returns (the loop goes on meanwhile).
    pub(super) async fn op(&mut self, op: Op, reply: Reply) {
        let result = match op {
            Op::PlaylistCreate {
                name,
                channel_layer,
            } => self.create(name, channel_layer),
            Op::PlaylistDelete { playlist } => self.delete(&playlist),
            Op::PlaylistSelect { playlist } => self.select(playlist),
            Op::PlaylistRename { playlist, name } => {
                self.edit(playlist, |p, _| p.rename(&name).map(|()| None))
            }
            Op::PlaylistLoop { playlist, enabled } => self.edit_and_rearm(playlist, |p, _| {
                p.looping = enabled;
                p.revision += 1;
                Ok(None)
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
            } => self.edit_and_rearm(playlist, |p, _| p.move_item(&item, index).map(|()| None)),
            Op::ItemRemove { playlist, item } => self.remove(playlist, item),
            Op::ItemUpdate {
                playlist,
                item,
                fields,
            } => {
                let media = self.media.clone();
                self.edit_and_rearm(playlist, |p, _| {
                    p.update(&item, &fields)?;
                    if let Some(it) = p.items.iter_mut().find(|i| i.id == item) {
                        fill_from_media(&media, Arc::make_mut(it));
                    }
                    Ok(Some(item.clone()))
                })
            }
            Op::Autoplay { playlist, enabled } => self.edit_and_rearm(playlist, |p, _| {
                p.autoplay = enabled;
                p.revision += 1;
                Ok(None)
            }),
            Op::Skip { playlist } => self.skip(playlist),
            Op::Cue { playlist, item } => return self.cue(playlist, item, reply),
            Op::Take { playlist, item } => return self.take(playlist, item, "take", reply),
            Op::Next { playlist } => return self.take(playlist, None, "next", reply),
            Op::Previous { playlist } => return self.previous(playlist, reply),
            Op::Stop { playlist } => return self.simple(playlist, Action::Stop, reply),
            Op::Pause { playlist } => return self.simple(playlist, Action::Pause, reply),
            Op::Resume { playlist } => return self.simple(playlist, Action::Resume, reply),
            Op::Clear { playlist } => return self.simple(playlist, Action::Clear, reply),
            Op::MediaRescan => return self.start_rescan(Some(reply)),
        };
        // Edits: saved, then answered once durable.
        let (result, acks) = match self.queue_saves().await {
            Ok(acks) => (result, acks),
            Err(e) => (Err(e), Vec::new()),
        };
        self.reply_when_durable(result, acks, reply);
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

    /// Applies an edit to a copy, and only on success replaces the playlist and publishes it.
    fn edit(
        &mut self,
        playlist: Option<String>,
        f: impl FnOnce(&mut Playlist, &Limits) -> Result<Option<String>, PlaylistError>,
    ) -> Result<OpResult, EngineError> {
        let mut copy = self.playlist(playlist.as_deref())?.clone();
        let item = f(&mut copy, &self.limits)?;
        let id = copy.id.clone();
        self.playlists.insert(id.clone(), copy);
        self.persist(&id);
        self.publish_playlist(&id);
        Ok(OpResult {
            playlist: Some(id),
            item,
            clips: None,
        })
    }

    /// An edit that may change what comes next: the background is re-armed afterwards.
    fn edit_and_rearm(
        &mut self,
        playlist: Option<String>,
        f: impl FnOnce(&mut Playlist, &Limits) -> Result<Option<String>, PlaylistError>,
    ) -> Result<OpResult, EngineError> {
        let r = self.edit(playlist, f)?;
        if let Some(id) = r.playlist.as_deref() {
            self.rearm(id);
        }
        Ok(r)
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
    ) -> Result<OpResult, EngineError> {
        if self.playlists.len() >= self.limits.max_playlists {
            return Err(PlaylistError::TooManyPlaylists {
                max: self.limits.max_playlists,
            }
            .into());
        }
        let base = slug(&name);
        let mut id = base.clone();
        let mut n = 2;
        while self.playlists.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let cl = channel_layer.unwrap_or(self.config.default_channel_layer);
        let playlist = Playlist::new(id.clone(), name, cl);
        playlist.validate(&self.limits)?;
        self.playlists.insert(id.clone(), playlist);
        self.playout.insert(id.clone(), Runtime::default());
        self.persist(&id);
        if self.selected.is_none() {
            self.selected = Some(id.clone());
        }
        self.publish_playlist(&id);
        Ok(OpResult {
            playlist: Some(id),
            ..OpResult::default()
        })
    }

    fn delete(&mut self, id: &str) -> Result<OpResult, EngineError> {
        self.playlist(Some(id))?;
        if self
            .playout
            .get(id)
            .is_some_and(|p| p.on_air().is_some() && p.status() != Status::Stopped)
        {
            return Err(EngineError::PlaylistOnAir);
        }
        self.playlists.remove(id);
        self.playout.remove(id);
        self.persistence.deleted.push(id.to_owned());
        self.persistence.state_dirty = true;
        self.progress.remove(id);
        self.publish(EventKind::PlaylistRemoved {
            playlist: id.to_owned(),
        });
        if self.selected.as_deref() == Some(id) {
            self.selected = self.playlists.keys().next().cloned();
            if let Some(s) = self.selected.clone() {
                self.publish(EventKind::Selected { playlist: s });
            }
        }
        Ok(OpResult {
            playlist: Some(id.to_owned()),
            ..OpResult::default()
        })
    }

    fn add(
        &mut self,
        playlist: Option<String>,
        new: NewItem,
        index: Option<usize>,
    ) -> Result<OpResult, EngineError> {
        let mut item = Item::new(new_item_id(), new.clip);
        item.title = new.title.filter(|t| !t.is_empty());
        item.transition = new.transition.unwrap_or_default();
        item.looping = new.looping;
        item.in_point = new.in_point;
        item.out_point = new.out_point;
        item.scheduled = new.scheduled;
        fill_from_media(&self.media, &mut item);
        let item_id = item.id.clone();
        self.edit_and_rearm(playlist, |p, limits| {
            p.insert(index, item, limits).map(|()| Some(item_id))
        })
    }

    fn remove(&mut self, playlist: Option<String>, item: String) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        if self
            .playout
            .get(&id)
            .is_some_and(|p| p.on_air() == Some(item.as_str()) && p.status() != Status::Stopped)
        {
            return Err(EngineError::ItemOnAir);
        }
        self.edit_and_rearm(Some(id), |p, _| p.remove(&item).map(|_| Some(item.clone())))
    }

    /// The next take plays the item after the next one; nothing is sent until the re-arm.
    fn skip(&mut self, playlist: Option<String>) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let next = self.next_of(&id).ok_or(EngineError::NothingToSkip)?;
        let after = transport::next_after(&self.playlists[&id], Some(&next));
        self.runtime(&id).skip_to(after);
        self.persistence.state_dirty = true;
        self.rearm(&id);
        self.publish_playlist(&id);
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
