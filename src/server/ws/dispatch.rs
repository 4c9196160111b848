//! Wire requests → what runs them: an engine [`Op`], or an answer the session gives itself
//! (`health`, `stats`); and engine results and errors → the wire's [`AckResult`] and [`ErrorBody`].
//!
//! The protocol ([`crate::protocol`]) knows nothing of the engine; this is the one place that maps
//! between the two, so an op added to the engine or to the protocol without the other fails to
//! compile here.

use crate::playout::engine::{EngineError, GraphicsAction, NewItem, Op, OpResult};
use crate::playout::model::ItemFields;
use crate::protocol::args::{ItemAdd, ItemInsert};
use crate::protocol::{AckResult, ErrorBody, Request};

/// What a `command` asks for: an engine op, or one the session answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handling {
    /// Boxed: an op is a few hundred bytes, the other variants none.
    Engine(Box<Op>),
    /// The `/health` document.
    Health,
    /// The daemon's counters.
    Stats,
}

impl From<Request> for Handling {
    fn from(request: Request) -> Self {
        Handling::Engine(Box::new(match request {
            Request::Health => return Handling::Health,
            Request::Stats => return Handling::Stats,
            Request::PlaylistCreate(a) => Op::PlaylistCreate {
                name: a.name,
                channel_layer: a.channel_layer,
                server: a.server,
            },
            Request::PlaylistDelete(a) => Op::PlaylistDelete {
                playlist: a.playlist,
            },
            Request::PlaylistSelect(a) => Op::PlaylistSelect {
                playlist: a.playlist,
            },
            Request::PlaylistRename(a) => Op::PlaylistRename {
                playlist: a.playlist,
                name: a.name,
            },
            Request::PlaylistLoop(a) => Op::PlaylistLoop {
                playlist: a.playlist,
                enabled: a.enabled,
            },
            Request::PlaylistUpdate(a) => Op::PlaylistUpdate {
                playlist: a.playlist,
                name: a.name,
                looping: a.looping,
                air_date: a.air_date,
                filler: a.filler,
                end_action: a.end_action,
                logo: a.logo,
            },
            Request::ItemAdd(a) => item_add(a),
            Request::ItemInsert(a) => item_insert(a),
            Request::ItemMove(a) => Op::ItemMove {
                playlist: a.playlist,
                item: a.item,
                index: a.index,
            },
            Request::ItemRemove(a) => Op::ItemRemove {
                playlist: a.playlist,
                item: a.item,
            },
            Request::ItemUpdate(a) => Op::ItemUpdate {
                playlist: a.playlist,
                item: a.item,
                fields: ItemFields {
                    clip: a.clip,
                    title: a.title,
                    transition: a.transition,
                    looping: a.looping,
                    in_point: a.in_point,
                    out_point: a.out_point,
                    scheduled: a.scheduled,
                    start: a.start,
                    at: a.at,
                    graphics: a.graphics.map(|g| *g),
                },
            },
            Request::Cue(a) => Op::Cue {
                playlist: a.playlist,
                item: a.item,
            },
            Request::Take(a) => Op::Take {
                playlist: a.playlist,
                item: a.item,
            },
            Request::Next(a) => Op::Next {
                playlist: a.playlist,
            },
            Request::Previous(a) => Op::Previous {
                playlist: a.playlist,
            },
            Request::Skip(a) => Op::Skip {
                playlist: a.playlist,
            },
            Request::Stop(a) => Op::Stop {
                playlist: a.playlist,
            },
            Request::Pause(a) => Op::Pause {
                playlist: a.playlist,
            },
            Request::Resume(a) => Op::Resume {
                playlist: a.playlist,
            },
            Request::Clear(a) => Op::Clear {
                playlist: a.playlist,
            },
            Request::Autoplay(a) => Op::Autoplay {
                playlist: a.playlist,
                enabled: a.enabled,
            },
            Request::MediaRescan => Op::MediaRescan,
            Request::GraphicsFire(a) => Op::Graphics {
                playlist: a.playlist,
                action: GraphicsAction::Fire {
                    item: a.item,
                    event: a.event,
                },
            },
            Request::GraphicsUpdate(a) => Op::Graphics {
                playlist: a.playlist,
                action: GraphicsAction::Update {
                    layer: a.layer,
                    data: a.data,
                },
            },
            Request::GraphicsInvoke(a) => Op::Graphics {
                playlist: a.playlist,
                action: GraphicsAction::Invoke {
                    layer: a.layer,
                    method: a.method,
                },
            },
            Request::GraphicsClear(a) => Op::Graphics {
                playlist: a.playlist,
                action: GraphicsAction::Clear { layer: a.layer },
            },
            Request::GraphicsLogo(a) => Op::Graphics {
                playlist: a.playlist,
                action: GraphicsAction::Logo { on: a.enabled },
            },
        }))
    }
}

fn item_add(a: ItemAdd) -> Op {
    Op::ItemAdd {
        playlist: a.playlist,
        index: a.index,
        item: NewItem {
            clip: a.clip,
            title: a.title,
            transition: a.transition,
            looping: a.looping,
            in_point: a.in_point,
            out_point: a.out_point,
            scheduled: a.scheduled,
            start: a.start,
            at: a.at,
            graphics: a.graphics.map(|g| *g),
        },
    }
}

/// `item.insert` is `item.add` with a required index.
fn item_insert(a: ItemInsert) -> Op {
    item_add(ItemAdd {
        playlist: a.playlist,
        clip: a.clip,
        title: a.title,
        transition: a.transition,
        looping: a.looping,
        in_point: a.in_point,
        out_point: a.out_point,
        scheduled: a.scheduled,
        start: a.start,
        at: a.at,
        graphics: a.graphics,
        index: Some(a.index),
    })
}

impl From<OpResult> for AckResult {
    fn from(r: OpResult) -> Self {
        AckResult {
            playlist: r.playlist,
            item: r.item,
            clips: r.clips,
            ..AckResult::default()
        }
    }
}

impl From<&EngineError> for ErrorBody {
    fn from(e: &EngineError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
