//! Comparing the two sides of a main/backup pair: the drift between their positions (from each
//! side's own telemetry) and the clips each side's library lacks (docs/operations.md, "Main and
//! backup servers").

use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// Drift readings older than this are not compared (a side whose telemetry stopped).
const POSITION_FRESH_FOR: Duration = Duration::from_secs(2);

/// How often a changed drift figure is published at most (a crossing of the alarm threshold is
/// published at once).
const DRIFT_PUBLISH_EVERY: Duration = Duration::from_secs(1);

impl Engine {
    /// Records a side's own reading of a layer and compares the pair's positions.
    pub(super) fn side_position(&mut self, side: usize, cl: Route, obs: &LayerObs, at: Instant) {
        let g = self.sides[side].group;
        if self.groups[g].sides.len() < 2 {
            return;
        }
        self.sides[side].positions.insert(cl, (obs.clone(), at));
        self.measure_drift(g);
    }

    /// The backup's position minus the main's, in frames, on the layer where they differ most,
    /// from both sides' latest readings of layers that show the same clip; alarmed beyond
    /// `playout.max_drift_frames`.
    fn measure_drift(&mut self, g: usize) {
        let (main_i, backup_i) = match self.groups[g].sides[..] {
            [m, b] => (m, b),
            _ => return,
        };
        let (main, backup) = (&self.sides[main_i], &self.sides[backup_i]);
        if !main.view.connected || !backup.view.connected || !backup.view.in_step {
            return;
        }
        let speed = f64::from(self.scheduler.clock.speed());
        let now = Instant::now();
        let mut worst: Option<i64> = None;
        for (cl, (m, m_at)) in &main.positions {
            let Some((b, b_at)) = backup.positions.get(cl) else {
                continue;
            };
            let fresh = |at: &Instant| now.duration_since(*at) < POSITION_FRESH_FOR;
            let same = m.fg_clip.is_some()
                && crate::playout::engine::observe::same_clip(
                    m.fg_clip.as_deref(),
                    b.fg_clip.as_deref().unwrap_or_default(),
                );
            let (Some(me), Some(be)) = (m.elapsed, b.elapsed) else {
                continue;
            };
            if !fresh(m_at) || !fresh(b_at) || !same || m.paused != b.paused {
                continue;
            }
            // Both positions carried forward to now (a paused layer does not move).
            let forward = |e: f64, at: &Instant, paused: bool| {
                if paused {
                    e
                } else {
                    e + now.duration_since(*at).as_secs_f64() * speed
                }
            };
            let (num, den) = self.frame_rates.get(&cl.chan()).copied().unwrap_or((25, 1));
            let fps = f64::from(num) / f64::from(den.max(1));
            let drift =
                ((forward(be, b_at, b.paused) - forward(me, m_at, m.paused)) * fps).round() as i64;
            if worst.is_none_or(|w| drift.abs() > w.abs()) {
                worst = Some(drift);
            }
        }
        let Some(drift) = worst else {
            return;
        };
        let limit = i64::from(self.config.max_drift_frames);
        let backup = &self.sides[backup_i];
        let before = backup.view.drift_frames;
        let crossed = before.is_none_or(|b| (b.abs() > limit) != (drift.abs() > limit));
        let due = backup
            .drift_published
            .is_none_or(|t| t.elapsed() >= DRIFT_PUBLISH_EVERY);
        if before == Some(drift) || !(crossed || due) {
            return;
        }
        let name = backup.view.name.clone();
        let b = &mut self.sides[backup_i];
        b.view.drift_frames = Some(drift);
        b.drift_published = Some(now);
        let message_prefix = format!("backup server {name:?} drifts");
        if crossed {
            let old: Vec<String> = self
                .alarms
                .iter()
                .filter(|a| a.kind == "drift" && a.message.starts_with(&message_prefix))
                .map(|a| a.message.clone())
                .collect();
            for m in old {
                self.clear_alarm("drift", &m);
            }
            if drift.abs() > limit {
                self.raise(
                    Severity::Warning,
                    "drift",
                    format!("{message_prefix} {drift} frames from the main (limit {limit})"),
                );
            }
        }
        self.publish_servers();
    }

    /// Clips the rundowns use that a side's library lacks, after its rescan.
    pub(super) fn side_library(&mut self, side: usize, clips: HashSet<String>) {
        self.sides[side].clips = Some(clips);
        self.side_missing();
    }

    /// Recomputes every side's missing clips and each group's clip use counts (after a rescan,
    /// or a whole playlist created, replaced or deleted): O(rundown).
    pub(super) fn side_missing(&mut self) {
        if self.groups.iter().all(|g| g.sides.len() < 2) {
            return;
        }
        let mut uses: Vec<HashMap<String, usize>> = vec![HashMap::new(); self.groups.len()];
        for pl in self.playlists.values() {
            if let Some(r) = self.route_of(pl) {
                for i in &pl.items {
                    *uses[r.group].entry(i.clip.clone()).or_default() += 1;
                }
            }
        }
        for (g, u) in uses.into_iter().enumerate() {
            self.groups[g].clip_uses = u;
        }
        let mut changed = false;
        for s in &mut self.sides {
            let Some(clips) = &s.clips else {
                continue;
            };
            let mut missing: Vec<String> = self.groups[s.group]
                .clip_uses
                .keys()
                .filter(|c| !clips.contains(&c.to_uppercase()))
                .cloned()
                .collect();
            missing.sort();
            if missing != s.view.missing {
                s.view.missing = missing;
                changed = true;
            }
        }
        if changed {
            self.publish_servers();
        }
    }

    /// An edit of playlist `id` stopped using `old` for one item and started using `new`: each
    /// side of its group updates its missing clips from the use counts, in O(sides), so a clip a
    /// side lacks is flagged when it is added and cleared when its last use goes.
    pub(super) fn side_clip_changed(&mut self, id: &str, old: Option<String>, new: Option<String>) {
        let Some(g) = self.route(id).map(|r| r.group) else {
            return;
        };
        if self.groups[g].sides.len() < 2 || old == new {
            return;
        }
        let uses = &mut self.groups[g].clip_uses;
        let mut gone = None;
        if let Some(o) = old {
            match uses.get_mut(&o) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    uses.remove(&o);
                    gone = Some(o);
                }
                None => {}
            }
        }
        let added = new.filter(|n| {
            let count = uses.entry(n.clone()).or_default();
            *count += 1;
            *count == 1
        });
        let mut changed = false;
        for side in self.groups[g].sides.clone() {
            let s = &mut self.sides[side];
            let Some(clips) = &s.clips else {
                continue;
            };
            if let Some(o) = &gone
                && let Ok(at) = s.view.missing.binary_search(o)
            {
                s.view.missing.remove(at);
                changed = true;
            }
            if let Some(n) = &added
                && !clips.contains(&n.to_uppercase())
                && let Err(at) = s.view.missing.binary_search(n)
            {
                s.view.missing.insert(at, n.clone());
                changed = true;
            }
        }
        if changed {
            self.publish_servers();
        }
    }
}
