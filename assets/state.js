// The client-side copy of the daemon's state and how each server message changes it.
//
// Pure functions over plain objects (no DOM, no socket), so the rules of docs/ws-protocol.md
// ("Ordering, seq and resume", "Applying events") live in one place that node can test without a
// browser (tests/web/state.test.mjs). The event rules are the daemon's own (`Playlist::apply` and
// `protocol::reduce` in Rust) written again in JavaScript: an item is inserted at its `index`,
// replaced by id, moved to its `index`, removed; `missing` stays sorted by id.

import { normalizeServers } from './servers.js';

/** An empty state: what the page shows before the first snapshot. */
export function emptyState() {
  return {
    seq: 0,
    selected: null,
    playlists: [],
    link: { connected: false, server_version: null, state: 'unknown', telemetry: 'none', servers: [] },
    media: { clips: [], updated_ms: null, error: null },
    alarms: [],
    progress: {},
    graphics: [],
  };
}

/** Is `v` a plain JSON object (not null, not an array)? */
export function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const asArray = (v) => (Array.isArray(v) ? v.filter(isObject) : []);

/** The largest integer JavaScript holds exactly. No daemon's `seq` reaches it, so a `resume` with
 * it is always answered by a snapshot: how a copy that no longer fits the events is replaced
 * (resuming from the copy's own `seq` would replay the very event that did not fit). */
export const SNAPSHOT_SINCE = Number.MAX_SAFE_INTEGER;

/** An item as the page uses it. */
function normalizeItem(it) {
  return { ...it, id: String(it.id ?? ''), clip: String(it.clip ?? '') };
}

function normalizePlayout(po) {
  const playout = isObject(po) ? po : {};
  return {
    status: typeof playout.status === 'string' ? playout.status : 'stopped',
    on_air: playout.on_air ?? null,
    on_air_since_ms: typeof playout.on_air_since_ms === 'number' ? playout.on_air_since_ms : null,
    cued: playout.cued ?? null,
    armed_auto: playout.armed_auto === true,
    next: playout.next ?? null,
    // Set when another playlist on the layer (the filler, the next day's rundown) took over.
    left_after: playout.left_after ?? null,
  };
}

/** Ids sorted as the daemon sorts them (by byte; ids are ASCII, so by UTF-16 unit too). */
function sortedIds(ids) {
  return ids.map(String).sort();
}

/** A playlist as the page uses it: the fields it reads always exist and have the right type. */
export function normalizePlaylist(p) {
  return {
    ...p,
    id: String(p.id ?? ''),
    name: String(p.name ?? p.id ?? ''),
    channel_layer: String(p.channel_layer ?? ''),
    // The server it plays on; null: the station's first.
    server: typeof p.server === 'string' && p.server !== '' ? p.server : null,
    items: asArray(p.items).map(normalizeItem),
    autoplay: p.autoplay === true,
    loop: p.loop === true,
    playout: normalizePlayout(p.playout),
    missing: Array.isArray(p.missing) ? sortedIds(p.missing) : [],
  };
}

function normalizeMedia(m) {
  const media = isObject(m) ? m : {};
  return {
    clips: asArray(media.clips).map((c) => ({
      name: String(c.name ?? ''),
      kind: String(c.kind ?? ''),
      duration: typeof c.duration === 'number' ? c.duration : null,
    })),
    updated_ms: typeof media.updated_ms === 'number' ? media.updated_ms : null,
    error: media.error == null ? null : String(media.error),
  };
}

function normalizeLink(l) {
  const link = isObject(l) ? l : {};
  return {
    connected: link.connected === true,
    server_version: link.server_version == null ? null : String(link.server_version),
    state: String(link.state ?? ''),
    telemetry: String(link.telemetry ?? 'none'),
    // Each server of a main/backup pair (one entry for a single server; none from older daemons).
    servers: normalizeServers(link.servers),
  };
}

/** The progress map, keeping only well-formed entries. */
export function normalizeProgress(p) {
  const out = {};
  if (!isObject(p)) return out;
  for (const [id, v] of Object.entries(p)) {
    if (!isObject(v)) continue;
    const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
    out[id] = {
      elapsed: num(v.elapsed),
      remaining: num(v.remaining),
      duration: num(v.duration),
      rundown_remaining: num(v.rundown_remaining),
      fresh: v.fresh !== false,
    };
  }
  return out;
}

/** A whole new state from a `snapshot` message (its `seq` wins over the state's own). */
export function fromSnapshot(msg) {
  const s = isObject(msg.state) ? msg.state : {};
  return {
    seq: typeof msg.seq === 'number' ? msg.seq : Number(s.seq) || 0,
    selected: s.selected ?? null,
    playlists: asArray(s.playlists).map(normalizePlaylist),
    link: normalizeLink(s.link),
    media: normalizeMedia(s.media),
    alarms: asArray(s.alarms),
    progress: normalizeProgress(s.progress),
    graphics: asArray(s.graphics),
  };
}

/**
 * What to do with an `event` given the `seq` the client holds.
 * - `apply`: exactly the next one;
 * - `duplicate`: already applied (seq <= mine), e.g. replayed by a resume;
 * - `gap`: from the future; the protocol never sends one on a live connection without a pending
 *   resume, and then it must be ignored because the replay resends it.
 */
export function classifyEvent(mySeq, eventSeq) {
  if (typeof eventSeq !== 'number' || !Number.isInteger(eventSeq)) return 'invalid';
  if (eventSeq <= mySeq) return 'duplicate';
  if (eventSeq === mySeq + 1) return 'apply';
  return 'gap';
}

/**
 * Applies one in-order event to `state` (mutated) and sets `state.seq`. Returns false, with
 * `state` untouched, when the event does not fit the copy: a malformed event, an item or playlist
 * the copy does not have, an index out of range, or a kind this page does not know (a newer
 * daemon). The copy can then no longer be trusted, and the caller replaces it with a snapshot.
 */
export function applyEvent(state, ev) {
  if (!isObject(ev) || !applyKind(state, ev)) return false;
  state.seq = ev.seq;
  return true;
}

const isIndex = (v) => Number.isInteger(v) && v >= 0;
const isId = (v) => typeof v === 'string' && v !== '';

function playlistOf(state, id) {
  return typeof id === 'string' ? (state.playlists.find((p) => p.id === id) ?? null) : null;
}

/** Where item `id` is in `p`: at `hint` (the position the event says, so following an edit of a
 * 10,000-item rundown costs no search), else wherever it is; -1 if it is not there. A hint that is
 * missing or wrong only costs the search. */
function locate(p, id, hint) {
  if (isIndex(hint) && p.items[hint]?.id === id) return hint;
  return p.items.findIndex((i) => i.id === id);
}

/** Where `id` is, or would go, in the sorted `ids`: `[index, found]`. */
function searchSorted(ids, id) {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return [lo, ids[lo] === id];
}

/** Marks `id` as missing or not, keeping `p.missing` sorted. */
function markMissing(p, id, missing) {
  const [at, found] = searchSorted(p.missing, id);
  if (found && !missing) p.missing.splice(at, 1);
  else if (!found && missing) p.missing.splice(at, 0, id);
}

function setRevision(p, revision) {
  if (isIndex(revision)) p.revision = revision;
}

/** The change of one event; false (nothing changed) when it does not fit. */
function applyKind(state, ev) {
  switch (ev.kind) {
    case 'playlist': {
      if (!isObject(ev.playlist)) return false;
      const p = normalizePlaylist(ev.playlist);
      const i = state.playlists.findIndex((x) => x.id === p.id);
      if (i >= 0) state.playlists[i] = p;
      else {
        // The snapshot lists playlists by id.
        const at = state.playlists.findIndex((x) => x.id > p.id);
        state.playlists.splice(at < 0 ? state.playlists.length : at, 0, p);
      }
      return true;
    }
    case 'item_added': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !isObject(ev.item) || !isId(ev.item.id) || !isIndex(ev.index)) return false;
      if (ev.index > p.items.length || p.items.some((i) => i.id === ev.item.id)) return false;
      const item = normalizeItem(ev.item);
      p.items.splice(ev.index, 0, item);
      setRevision(p, ev.revision);
      markMissing(p, item.id, ev.missing === true);
      return true;
    }
    case 'item_updated': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !isObject(ev.item) || !isId(ev.item.id)) return false;
      const at = locate(p, ev.item.id, ev.index);
      if (at < 0) return false;
      p.items[at] = normalizeItem(ev.item);
      setRevision(p, ev.revision);
      markMissing(p, ev.item.id, ev.missing === true);
      return true;
    }
    case 'item_moved': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !isId(ev.item) || !isIndex(ev.index) || ev.index >= p.items.length) return false;
      const from = locate(p, ev.item, ev.from);
      if (from < 0) return false;
      const [item] = p.items.splice(from, 1);
      p.items.splice(ev.index, 0, item);
      setRevision(p, ev.revision);
      return true;
    }
    case 'item_removed': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !isId(ev.item)) return false;
      const at = locate(p, ev.item, ev.index);
      if (at < 0) return false;
      p.items.splice(at, 1);
      setRevision(p, ev.revision);
      markMissing(p, ev.item, false);
      return true;
    }
    case 'playlist_settings': {
      const p = playlistOf(state, ev.playlist);
      if (!p) return false;
      p.name = String(ev.name ?? p.name);
      p.loop = ev.loop === true;
      p.autoplay = ev.autoplay === true;
      if (typeof ev.air_date === 'string') p.air_date = ev.air_date;
      else delete p.air_date;
      // Left out when absent / the default, as in the snapshot.
      if (typeof ev.filler === 'string') p.filler = ev.filler;
      else delete p.filler;
      if (typeof ev.end_action === 'string' && ev.end_action !== 'filler') p.end_action = ev.end_action;
      else delete p.end_action;
      if (ev.logo && typeof ev.logo === 'object') p.logo = ev.logo;
      else delete p.logo;
      setRevision(p, ev.revision);
      return true;
    }
    case 'playout': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !isObject(ev.playout)) return false;
      p.playout = normalizePlayout(ev.playout);
      return true;
    }
    case 'missing': {
      const p = playlistOf(state, ev.playlist);
      if (!p || !Array.isArray(ev.missing)) return false;
      p.missing = sortedIds(ev.missing);
      return true;
    }
    case 'playlist_removed': {
      const id = String(ev.playlist);
      state.playlists = state.playlists.filter((x) => x.id !== id);
      delete state.progress[id];
      // The daemon follows with `selected` when another playlist takes its place.
      if (state.selected === id) state.selected = null;
      return true;
    }
    case 'selected':
      state.selected = ev.playlist ?? null;
      return true;
    case 'link':
      state.link = normalizeLink(ev.link);
      return true;
    case 'media':
      state.media = normalizeMedia(ev.media);
      return true;
    case 'alarm_raised': {
      if (!isObject(ev.alarm)) return false;
      state.alarms = state.alarms.filter((a) => a.id !== ev.alarm.id);
      state.alarms.push(ev.alarm);
      return true;
    }
    case 'alarm_cleared':
      state.alarms = state.alarms.filter((a) => a.id !== ev.id);
      return true;
    case 'graphics':
      // The whole list of what onair has on the graphics layers.
      state.graphics = asArray(ev.graphics);
      return true;
    default:
      return false;
  }
}

/** Seconds of a clip from its frame count and rate (`fps` is `[numerator, denominator]`). */
export function itemSeconds(item) {
  const fps = Array.isArray(item.fps) ? item.fps : null;
  if (typeof item.frames !== 'number' || !fps || !(fps[0] > 0) || !(fps[1] > 0)) return null;
  return (item.frames * fps[1]) / fps[0];
}

// ---- a playlist's part on its channel-layer ----------------------------------------------------

const FILLER_ORDER = { in_order: 'in order', shuffle: 'shuffle' };

/** `FILLER · shuffle` for the layer's filler, `end: black` / `end: hold` for a rundown that does
 * not hand its layer to the filler at its end, '' for the default (not worth a word). The same
 * words as the console (docs/console.md). */
export function playlistMarks(p) {
  const marks = [];
  if (typeof p?.filler === 'string') marks.push(`FILLER · ${FILLER_ORDER[p.filler] ?? p.filler}`);
  if (typeof p?.end_action === 'string' && p.end_action !== 'filler') marks.push(`end: ${p.end_action}`);
  return marks.join(' · ');
}

/** Where playlist `p` plays, as the operator reads it: `1-10`, or `studio-b 1-10` when it names
 * its server. */
export function layerLabel(p) {
  return p?.server ? `${p.server} ${p.channel_layer}` : String(p?.channel_layer ?? '');
}

/** Whether playlists `a` and `b` play on the same layer of the same server (no `server`: the
 * station's first, the first server the link lists). */
export function sameLayer(state, a, b) {
  const first = state?.link?.servers?.[0]?.group ?? null;
  const serverOf = (p) => p.server ?? first;
  return a.channel_layer === b.channel_layer && serverOf(a) === serverOf(b);
}

/** When playlist `p` is stopped because another playlist on its layer went on air (the filler in a
 * gap, the next day's rundown): `{ item, itemId, by }`, the item it left (null if deleted since;
 * it resumes after it) and the playlist now on the layer (null until its own event arrives).
 * Otherwise null. */
export function takenOver(state, p) {
  if (!p || p.playout.status !== 'stopped' || p.playout.left_after == null) return null;
  const itemId = String(p.playout.left_after);
  const by = state.playlists.find(
    (o) => o.id !== p.id && sameLayer(state, o, p) && o.playout.status !== 'stopped',
  );
  return { item: p.items.find((i) => i.id === itemId) ?? null, itemId, by: by ?? null };
}

/** `mm:ss`, or `h:mm:ss` from one hour; `--:--` when unknown. Whole seconds, rounded `mode`-wards. */
export function formatTime(seconds, mode = 'floor') {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '--:--';
  const total = Math.max(0, mode === 'ceil' ? Math.ceil(seconds - 1e-6) : Math.floor(seconds + 1e-6));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

// ---- the planned timeline (`timeline` messages) -------------------------------------------------
//
// Derived state like progress, not sequenced: each message replaces the previous one whole, and it
// is kept apart from the snapshot state (a same-boot snapshot does not make it wrong; a restarted
// daemon sends its own). Entries are matched to rows by playlist revision and item id.

const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function normalizeEntry(e) {
  const fixed = isObject(e.fixed)
    ? { hard: e.fixed.hard === true, due_ms: num(e.fixed.due_ms), slack_ms: num(e.fixed.slack_ms), delay_ms: num(e.fixed.delay_ms) }
    : null;
  return {
    item: String(e.item ?? ''),
    state: String(e.state ?? 'unknown'),
    start_ms: num(e.start_ms),
    end_ms: num(e.end_ms),
    cut: e.cut === true,
    lost_ms: num(e.lost_ms),
    fixed,
  };
}

function normalizeView(v) {
  const next = isObject(v.next_fixed) && num(v.next_fixed.start_ms) !== null ? v.next_fixed : null;
  return {
    revision: isIndex(v.revision) ? v.revision : -1,
    first: isIndex(v.first) ? v.first : 0,
    entries: asArray(v.entries).map(normalizeEntry),
    gaps: asArray(v.gaps)
      .filter((g) => num(g.start_ms) !== null && num(g.length_ms) !== null)
      .map((g) => ({ start_ms: g.start_ms, length_ms: g.length_ms, before: g.before == null ? null : String(g.before), fill: String(g.fill ?? '') })),
    next_fixed: next && { item: String(next.item ?? ''), hard: next.hard === true, due_ms: num(next.due_ms), start_ms: next.start_ms },
    end_ms: num(v.end_ms),
  };
}

/** The timelines of a `timeline` message, keeping only well-formed parts. */
export function fromTimeline(msg) {
  const s = isObject(msg.station) ? msg.station : null;
  const playlists = {};
  if (isObject(msg.playlists)) {
    for (const [id, v] of Object.entries(msg.playlists)) if (isObject(v)) playlists[id] = normalizeView(v);
  }
  return {
    planned_ms: num(msg.planned_ms) ?? 0,
    station: s && {
      timezone: String(s.timezone ?? 'UTC'),
      day_start: String(s.day_start ?? ''),
      air_date: String(s.air_date ?? ''),
      utc_offset_s: num(s.utc_offset_s) ?? 0,
    },
    playlists,
  };
}

/** The entry of item `index` of playlist `p`, or null: none when the timeline was planned from
 * another revision than the copy's (after an edit, the row at an index may be another item) or
 * the item is outside the window (`first` .. `first + entries.length`). */
export function timelineEntry(view, p, index) {
  if (!view || !p || view.revision !== p.revision) return null;
  const e = view.entries[index - view.first];
  return e && e.item === p.items[index]?.id ? e : null;
}

const two = (n) => String(n).padStart(2, '0');

/** `HH:MM:SS` of Unix `ms` in station time (`offsetS` seconds east of UTC). */
export function stationTime(ms, offsetS = 0) {
  const s = (((Math.floor((ms + offsetS * 1000) / 1000)) % 86400) + 86400) % 86400;
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** `MM:SS` (`H:MM:SS` from an hour) of a span's size, rounded up: an over-run is never shown as
 * none. */
export function formatSpan(ms) {
  const s = Math.ceil(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600);
  return h > 0 ? `${h}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

/** What the row says before the planned start: `{kind, text}` with kind `cut` (a hard start cuts
 * the item; text the time lost), `under` (a gap before a fixed item), `over` (the rundown reaches
 * it late) or `on-time`; null when there is nothing to say. */
export function planDiff(e) {
  if (!e) return null;
  if (e.cut) return { kind: 'cut', text: e.lost_ms === null ? '✂ ?' : `✂ -${formatSpan(e.lost_ms)}` };
  const slack = e.fixed?.slack_ms;
  if (typeof slack !== 'number') return null;
  if (slack > 0) return { kind: 'under', text: `+${formatSpan(slack)}` };
  if (slack < 0) return { kind: 'over', text: `-${formatSpan(slack)}` };
  return { kind: 'on-time', text: '00:00' };
}

/** `H`/`S` for a hard or soft item, '' for the others. */
export function planMark(e) {
  if (!e?.fixed) return '';
  return e.fixed.hard ? 'H' : 'S';
}

/** The next fixed-time item with the time left until it starts (ms, never negative) by the
 * client's clock `nowMs`: the daemon sends no count-down, it would change every frame. */
export function nextFixed(view, nowMs) {
  const n = view?.next_fixed;
  return n ? { ...n, left_ms: Math.max(0, n.start_ms - nowMs) } : null;
}

/** The first unfilled gap that has not ended by `nowMs` (the channel would go black), or null. */
export function unfilledGap(view, nowMs) {
  return view?.gaps.find((g) => g.fill === 'unfilled' && g.start_ms + g.length_ms > nowMs) ?? null;
}
