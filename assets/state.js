// The client-side copy of the daemon's state and how each server message changes it.
//
// Pure functions over plain objects (no DOM, no socket), so the rules of docs/ws-protocol.md
// ("Ordering, seq and resume") live in one place that node can test without a browser
// (tests/web/state.test.mjs).

/** An empty state: what the page shows before the first snapshot. */
export function emptyState() {
  return {
    seq: 0,
    selected: null,
    playlists: [],
    link: { connected: false, server_version: null, state: 'unknown', telemetry: 'none' },
    media: { clips: [], updated_ms: null, error: null },
    alarms: [],
    progress: {},
  };
}

/** Is `v` a plain JSON object (not null, not an array)? */
export function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const asArray = (v) => (Array.isArray(v) ? v.filter(isObject) : []);

/** A playlist as the page uses it: the fields it reads always exist and have the right type. */
export function normalizePlaylist(p) {
  const playout = isObject(p.playout) ? p.playout : {};
  return {
    ...p,
    id: String(p.id ?? ''),
    name: String(p.name ?? p.id ?? ''),
    channel_layer: String(p.channel_layer ?? ''),
    items: asArray(p.items).map((it) => ({ ...it, id: String(it.id ?? ''), clip: String(it.clip ?? '') })),
    autoplay: p.autoplay === true,
    loop: p.loop === true,
    playout: {
      status: typeof playout.status === 'string' ? playout.status : 'stopped',
      on_air: playout.on_air ?? null,
      on_air_since_ms: typeof playout.on_air_since_ms === 'number' ? playout.on_air_since_ms : null,
      cued: playout.cued ?? null,
      armed_auto: playout.armed_auto === true,
      next: playout.next ?? null,
    },
    missing: Array.isArray(p.missing) ? p.missing.map(String) : [],
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
 * Applies one in-order event to `state` (mutated) and sets `state.seq`. Kinds this page does not
 * know (a newer daemon) still consume their `seq`, so later events keep applying; the change they
 * carry is not shown. Returns whether the kind was known.
 */
export function applyEvent(state, ev) {
  state.seq = ev.seq;
  switch (ev.kind) {
    case 'playlist': {
      if (!isObject(ev.playlist)) return false;
      const p = normalizePlaylist(ev.playlist);
      const i = state.playlists.findIndex((x) => x.id === p.id);
      if (i >= 0) state.playlists[i] = p;
      else state.playlists.push(p);
      return true;
    }
    case 'playlist_removed': {
      state.playlists = state.playlists.filter((x) => x.id !== String(ev.playlist));
      delete state.progress[String(ev.playlist)];
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
