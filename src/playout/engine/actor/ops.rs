//! Operator ops: playlist edits and playout actions, each answered with a result or a typed error.

use super::*;

impl Engine {
    pub(super) async fn op(&mut self, op: Op) -> Result<OpResult, EngineError> {
        match op {
            Op::PlaylistCreate {
                name,
                channel_layer,
            } => self.create(name, channel_layer),
            Op::PlaylistDelete { playlist } => self.delete(&playlist),
            Op::PlaylistSelect { playlist } => {
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
            Op::PlaylistRename { playlist, name } => {
                self.edit(playlist, |p, _| p.rename(&name).map(|()| None))
            }
            Op::PlaylistLoop { playlist, enabled } => {
                self.edit_and_rearm(playlist, |p, _| {
                    p.looping = enabled;
                    p.revision += 1;
                    Ok(None)
                })
                .await
            }
            Op::ItemAdd {
                playlist,
                item,
                index,
            } => self.add(playlist, item, index).await,
            Op::ItemMove {
                playlist,
                item,
                index,
            } => {
                self.edit_and_rearm(playlist, |p, _| p.move_item(&item, index).map(|()| None))
                    .await
            }
            Op::ItemRemove { playlist, item } => self.remove(playlist, item).await,
            Op::ItemUpdate {
                playlist,
                item,
                fields,
            } => {
                let media = self.media.clone();
                self.edit_and_rearm(playlist, |p, _| {
                    p.update(&item, &fields)?;
                    if let Some(it) = p.items.iter_mut().find(|i| i.id == item) {
                        fill_from_media(&media, it);
                    }
                    Ok(Some(item.clone()))
                })
                .await
            }
            Op::Cue { playlist, item } => self.cue(playlist, item).await,
            Op::Take { playlist, item } => self.take(playlist, item, "take").await,
            Op::Next { playlist } => self.take(playlist, None, "next").await,
            Op::Previous { playlist } => {
                let id = self.playlist(playlist.as_deref())?.id.clone();
                let p = &self.playlists[&id];
                let on_air = self.playout.get(&id).and_then(|p| p.on_air.clone());
                let prev = transport::previous_before(p, on_air.as_deref())
                    .ok_or_else(|| EngineError::Playout("there is no previous item".into()))?;
                self.take(Some(id), Some(prev), "previous").await
            }
            Op::Skip { playlist } => self.skip(playlist).await,
            Op::Stop { playlist } => self.simple(playlist, Command::Stop, Status::Stopped).await,
            Op::Pause { playlist } => self.simple(playlist, Command::Pause, Status::Paused).await,
            Op::Resume { playlist } => {
                self.simple(playlist, Command::Resume, Status::Playing)
                    .await
            }
            Op::Clear { playlist } => self.simple(playlist, Command::Clear, Status::Stopped).await,
            Op::Autoplay { playlist, enabled } => {
                self.edit_and_rearm(playlist, |p, _| {
                    p.autoplay = enabled;
                    p.revision += 1;
                    Ok(None)
                })
                .await
            }
            Op::MediaRescan => {
                let clips = self.rescan().await?;
                Ok(OpResult {
                    clips: Some(clips),
                    ..OpResult::default()
                })
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
    async fn edit_and_rearm(
        &mut self,
        playlist: Option<String>,
        f: impl FnOnce(&mut Playlist, &Limits) -> Result<Option<String>, PlaylistError>,
    ) -> Result<OpResult, EngineError> {
        let r = self.edit(playlist, f)?;
        if let Some(id) = r.playlist.as_deref() {
            self.rearm(id).await;
        }
        Ok(r)
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
        self.playout.insert(id.clone(), Playout::default());
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
            .is_some_and(|p| p.on_air.is_some() && p.status != Status::Stopped)
        {
            return Err(EngineError::Playout(
                "the playlist is on air; stop it before deleting".into(),
            ));
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

    async fn add(
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
        let r = self.edit(playlist, |p, limits| {
            p.insert(index, item, limits).map(|()| Some(item_id))
        })?;
        if let Some(id) = r.playlist.clone() {
            self.rearm(&id).await;
        }
        Ok(r)
    }

    async fn remove(
        &mut self,
        playlist: Option<String>,
        item: String,
    ) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        if self
            .playout
            .get(&id)
            .is_some_and(|p| p.on_air.as_deref() == Some(&item) && p.status != Status::Stopped)
        {
            return Err(EngineError::Playout(
                "the item is on air; take another item first".into(),
            ));
        }
        let r = self.edit(Some(id.clone()), |p, _| {
            p.remove(&item).map(|_| Some(item.clone()))
        })?;
        self.rearm(&id).await;
        Ok(r)
    }

    async fn cue(
        &mut self,
        playlist: Option<String>,
        item: Option<String>,
    ) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let target = match item {
            Some(i) => i,
            None => self
                .next_of(&id)
                .ok_or_else(|| EngineError::Playout("nothing to cue".into()))?,
        };
        let pl = &self.playlists[&id];
        let it = pl
            .item(&target)
            .ok_or_else(|| PlaylistError::ItemNotFound(target.clone()))?
            .clone();
        let cl = pl.channel_layer;
        let auto = self.auto_allowed(&id);
        self.send(transport::loadbg(cl, &it, auto)).await?;
        let p = self.playout.entry(id.clone()).or_default();
        p.cued = Some(target.clone());
        p.armed_auto = auto;
        p.next = Some(target.clone());
        self.publish_playlist(&id);
        Ok(OpResult {
            playlist: Some(id),
            item: Some(target),
            clips: None,
        })
    }

    async fn take(
        &mut self,
        playlist: Option<String>,
        item: Option<String>,
        how: &str,
    ) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let state = self.playout.get(&id).cloned().unwrap_or_default();
        let target = match item {
            Some(i) => i,
            None => state
                .cued
                .clone()
                .or_else(|| self.next_of(&id))
                .ok_or_else(|| EngineError::Playout("nothing left to take".into()))?,
        };
        let pl = &self.playlists[&id];
        let it = pl
            .item(&target)
            .ok_or_else(|| PlaylistError::ItemNotFound(target.clone()))?
            .clone();
        let cl = pl.channel_layer;
        // A cued background is promoted with its transition; anything else is played directly.
        let cmd = if state.cued.as_deref() == Some(target.as_str()) {
            Command::Play(cl, None)
        } else {
            transport::play(cl, &it, None)
        };
        self.send(cmd).await?;
        self.went_on_air(&id, &target, how);
        self.rearm(&id).await;
        Ok(OpResult {
            playlist: Some(id),
            item: Some(target),
            clips: None,
        })
    }

    async fn skip(&mut self, playlist: Option<String>) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let next = self
            .next_of(&id)
            .ok_or_else(|| EngineError::Playout("nothing to skip".into()))?;
        let after = transport::next_after(&self.playlists[&id], Some(&next));
        let p = self.playout.entry(id.clone()).or_default();
        p.next = after;
        p.cued = None;
        self.rearm(&id).await;
        self.publish_playlist(&id);
        Ok(OpResult {
            playlist: Some(id),
            item: Some(next),
            clips: None,
        })
    }

    /// STOP, PAUSE, RESUME, CLEAR: one command on the playlist's layer, then the new status.
    async fn simple(
        &mut self,
        playlist: Option<String>,
        cmd: fn(ChannelLayer) -> Command,
        status: Status,
    ) -> Result<OpResult, EngineError> {
        let id = self.playlist(playlist.as_deref())?.id.clone();
        let cl = self.playlists[&id].channel_layer;
        let command = cmd(cl);
        let ending = matches!(command, Command::Stop(_) | Command::Clear(_));
        self.send(command.clone()).await?;
        if ending {
            let reason = if matches!(command, Command::Stop(_)) {
                "stop"
            } else {
                "clear"
            };
            self.went_off_air(&id, reason);
            let p = self.playout.entry(id.clone()).or_default();
            // STOP keeps the background but cancels AUTO; CLEAR empties both.
            p.armed_auto = false;
            if matches!(command, Command::Clear(_)) {
                p.cued = None;
            }
        }
        if let Some(p) = self.playout.get_mut(&id)
            && (p.on_air.is_some() || ending)
        {
            p.status = status;
        }
        self.publish_playlist(&id);
        Ok(OpResult {
            playlist: Some(id),
            ..OpResult::default()
        })
    }

    /// Sends a playout command; a failure becomes an alarm as well as the op's error.
    pub(super) async fn send(&mut self, cmd: Command) -> Result<(), EngineError> {
        match self.caspar.send(cmd.clone()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let severity = if matches!(e, CommandError::NotConnected) {
                    Severity::Warning
                } else {
                    Severity::Critical
                };
                self.raise(severity, "playout", format!("{} failed: {e}", cmd.name()));
                Err(EngineError::Caspar(e))
            }
        }
    }
}
