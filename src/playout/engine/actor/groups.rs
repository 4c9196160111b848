//! Server groups: the station's independent servers, each a lone server or a main with its backup
//! (docs/operations.md, "Several servers"). A playlist plays on one group (its `server`, or the
//! first group), so a layer is named by its group and channel-layer: two servers' `1-10` are two
//! layers, with their own lanes, telemetry, frame rates and media library.

use std::fmt;

use super::*;
use crate::caspar::LinkState;

/// A layer of one group: where a playlist plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Route {
    /// Index in [`Engine::groups`].
    pub group: usize,
    pub channel: u16,
    pub layer: Option<i32>,
}

impl Route {
    pub(super) fn new(group: usize, cl: ChannelLayer) -> Route {
        Route {
            group,
            channel: cl.channel,
            layer: cl.layer,
        }
    }

    /// The channel-layer as the group's servers know it.
    pub(super) fn wire(self) -> ChannelLayer {
        ChannelLayer {
            channel: self.channel,
            layer: self.layer,
        }
    }

    /// The channel of the group it is on.
    pub(super) fn chan(self) -> Chan {
        (self.group, self.channel)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.wire().fmt(f)
    }
}

/// A channel of one group.
pub(crate) type Chan = (usize, u16);

/// The servers of one group as the engine was given them.
pub struct GroupDeps {
    pub main: SideDeps,
    pub backup: Option<SideDeps>,
}

/// One group as the engine drives it.
pub(crate) struct Group {
    /// The main's name: what playlists name in `server`.
    pub(super) name: String,
    /// Its sides (indices in [`Engine::sides`]), the main first.
    pub(super) sides: Vec<usize>,
    /// The side whose telemetry `observed` holds for this group's layers.
    pub(super) followed: usize,
    /// The group's link: up while one of its sides is.
    pub(super) link: LinkState,
    /// The lead side's media library: clip lengths and missing clips of its playlists.
    pub(super) media: Arc<MediaLibrary>,
    /// The side whose rescan answers the group's share of an operator's rescan.
    pub(super) rescan_lead: usize,
    /// How many items of its playlists use each clip (as written), for each side's missing clips
    /// (kept only for a pair; see `pair_watch`).
    pub(super) clip_uses: HashMap<String, usize>,
}

impl Engine {
    /// The group playlists naming `server` play on (none: the first group).
    pub(super) fn group_named(&self, server: Option<&str>) -> Option<usize> {
        match server {
            None => Some(0),
            Some(name) => self.groups.iter().position(|g| g.name == name),
        }
    }

    /// Where `pl` plays; `None` when its server is not configured (it is not played; see
    /// `unrouted_alarms`).
    pub(super) fn route_of(&self, pl: &Playlist) -> Option<Route> {
        let group = self.group_named(pl.server.as_deref())?;
        Some(Route::new(group, pl.channel_layer))
    }

    /// Where playlist `id` plays.
    pub(super) fn route(&self, id: &str) -> Option<Route> {
        self.route_of(self.playlists.get(id)?)
    }

    /// The media library clips of playlist `pl` are looked up in.
    pub(super) fn media_of(&self, pl: &Playlist) -> Arc<MediaLibrary> {
        match self.route_of(pl) {
            Some(r) => self.groups[r.group].media.clone(),
            None => Arc::default(),
        }
    }

    /// A playlist whose server is not in the configuration cannot play anywhere: an alarm says
    /// so, until the playlist is deleted or the server configured again.
    pub(super) fn unrouted_alarms(&mut self) {
        let unrouted: Vec<(String, String)> = self
            .playlists
            .values()
            .filter(|pl| self.route_of(pl).is_none())
            .map(|pl| (pl.id.clone(), pl.server.clone().unwrap_or_default()))
            .collect();
        for (id, server) in unrouted {
            self.raise(
                Severity::Critical,
                "server",
                format!(
                    "playlist {id:?} plays on server {server:?}, which is not configured: it is \
                     not played"
                ),
            );
        }
    }

    /// Refuses a playlist whose server is not configured (a new one, or a file edited by hand).
    pub(super) fn check_server(&self, pl: &Playlist) -> Result<(), PlaylistError> {
        match &pl.server {
            Some(name) if self.group_named(Some(name)).is_none() => {
                let known: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
                Err(PlaylistError::Invalid {
                    field: "server",
                    reason: format!(
                        "no server {name:?} is configured (servers: {})",
                        known.join(", ")
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// The station's link as the views show it: connected while every group is, with the first
    /// group's server version; otherwise the state of the first group that is not (named when
    /// there are several).
    pub(super) fn station_link(&self) -> LinkView {
        let down = self
            .groups
            .iter()
            .find(|g| !matches!(g.link, LinkState::Connected { .. }));
        let several = self.groups.len() > 1;
        let mut view = match down {
            None => LinkView {
                connected: true,
                server_version: match &self.groups[0].link {
                    LinkState::Connected { server_version, .. } => Some(server_version.clone()),
                    _ => None,
                },
                state: "connected".into(),
                telemetry: self.link.telemetry,
                ..LinkView::default()
            },
            Some(g) => {
                let state = match &g.link {
                    LinkState::Connecting { attempt } => format!("connecting (attempt {attempt})"),
                    LinkState::Disconnected { reason, .. } => format!("down: {reason}"),
                    LinkState::Connected { .. } => "connected".into(),
                };
                LinkView {
                    state: if several {
                        format!("{}: {state}", g.name)
                    } else {
                        state
                    },
                    ..LinkView::default()
                }
            }
        };
        view.servers = self.link.servers.clone();
        view
    }

    /// How a layer is named in alarms: `1-10`, or `studio-b 1-10` when the station has several
    /// servers.
    pub(super) fn layer_name(&self, r: Route) -> String {
        if self.groups.len() > 1 {
            format!("{} {r}", self.groups[r.group].name)
        } else {
            r.to_string()
        }
    }

    /// The ids of the playlists that play on group `g`'s servers.
    pub(super) fn playlists_of(&self, g: usize) -> Vec<String> {
        self.playlists
            .keys()
            .filter(|id| self.route(id).is_some_and(|r| r.group == g))
            .cloned()
            .collect()
    }

    /// Whether group `g` has a connected side.
    pub(super) fn group_connected(&self, g: usize) -> bool {
        self.groups
            .get(g)
            .is_some_and(|g| matches!(g.link, LinkState::Connected { .. }))
    }
}

/// The engine's sides and groups from the configured groups, in order (the first group first, each
/// main before its backup).
pub(super) fn build(deps: impl Iterator<Item = GroupDeps>) -> (Vec<sides::Side>, Vec<Group>) {
    let (mut sides, mut groups) = (Vec::new(), Vec::new());
    for (g, group) in deps.enumerate() {
        let main = sides.len();
        let name = group.main.name.clone();
        sides.push(sides::Side::new(group.main, ServerRole::Main, g));
        let mut members = vec![main];
        if let Some(backup) = group.backup {
            members.push(sides.len());
            sides.push(sides::Side::new(backup, ServerRole::Backup, g));
        }
        for &i in &members {
            sides[i].view.group.clone_from(&name);
        }
        groups.push(Group {
            name,
            sides: members,
            followed: main,
            link: LinkState::Connecting { attempt: 0 },
            media: Arc::default(),
            rescan_lead: main,
            clip_uses: HashMap::new(),
        });
    }
    (sides, groups)
}
