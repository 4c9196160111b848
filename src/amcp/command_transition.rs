//! Transitions of `PLAY`, `LOADBG` and `LOAD`: kind, length in frames, tween and direction, and
//! their AMCP keywords (split from [`super`], which encodes them).

/// The kind of a transition between two clips.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransitionKind {
    Cut,
    Mix,
    Push,
    Slide,
    Wipe,
}

impl TransitionKind {
    /// Every kind, in the order CasparCG documents them.
    pub const ALL: [TransitionKind; 5] = [
        TransitionKind::Cut,
        TransitionKind::Mix,
        TransitionKind::Push,
        TransitionKind::Slide,
        TransitionKind::Wipe,
    ];

    /// The kind named by an AMCP keyword, in any case (`mix`, `MIX`).
    pub fn parse(word: &str) -> Option<TransitionKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.keyword().eq_ignore_ascii_case(word))
    }

    /// The name the server reports in `INFO` and OSC (`transition/type`): lower case.
    pub fn reported_name(self) -> &'static str {
        match self {
            TransitionKind::Cut => "cut",
            TransitionKind::Mix => "mix",
            TransitionKind::Push => "push",
            TransitionKind::Slide => "slide",
            TransitionKind::Wipe => "wipe",
        }
    }

    /// The AMCP keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            TransitionKind::Cut => "CUT",
            TransitionKind::Mix => "MIX",
            TransitionKind::Push => "PUSH",
            TransitionKind::Slide => "SLIDE",
            TransitionKind::Wipe => "WIPE",
        }
    }
}

/// The direction of a PUSH, SLIDE or WIPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Left,
    Right,
    FromLeft,
    FromRight,
}

impl Direction {
    /// The AMCP keyword.
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Direction::Left => "LEFT",
            Direction::Right => "RIGHT",
            Direction::FromLeft => "FROMLEFT",
            Direction::FromRight => "FROMRIGHT",
        }
    }
}

/// A transition: `<KIND> <frames> [tween] [direction]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    pub kind: TransitionKind,
    /// Duration in channel frames; 0 means no transition.
    pub frames: u32,
    /// Tween name such as `LINEAR` or `EASEINSINE`.
    pub tween: Option<String>,
    pub direction: Option<Direction>,
}

impl Transition {
    /// A transition with no tween or direction.
    pub fn new(kind: TransitionKind, frames: u32) -> Self {
        Transition {
            kind,
            frames,
            tween: None,
            direction: None,
        }
    }
}
