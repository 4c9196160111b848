// Graphics as the page shows them (docs/graphics.md): an item's secondary events in a few
// characters, what is live on a playlist's channel, whether its standing logo is on, and the text
// of the Update and Invoke dialogs (a template's data as text and back, a function's name).
//
// Pure functions over the client's state (no DOM, no socket), so node tests them without a
// browser (tests/web/graphics.test.mjs). Fields come from the daemon and are checked here: a
// malformed event or live graphic is left out or shown as what it is, never thrown on.

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

/** The item's secondary events that can be shown: each with a string `id` and a number `layer`. */
export function itemEvents(item) {
  const events = isObject(item?.graphics) ? item.graphics.events : null;
  if (!Array.isArray(events)) return [];
  return events.filter((e) => isObject(e) && typeof e.id === 'string' && e.id !== '' && isNumber(e.layer));
}

/** Whether the item has the playlist's logo off for its duration (ads, promos). */
export function logoOff(item) {
  return isObject(item?.graphics) && item.graphics.logo === false;
}

/** A span of `ms` milliseconds in a few characters: `8s`, `2.5s`, `1m30s`, `1h5m`. */
export function shortSpan(ms) {
  const total = Math.round(Math.abs(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const sMs = total % 60_000;
  // Seconds with their fraction, trailing zeros dropped: 2500 → `2.5`, 40 → `0.04`.
  const s = (sMs / 1000).toFixed(3).replace(/\.?0+$/, '');
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (sMs || !out) out += `${s}s`;
  return out;
}

/** What a graphic shows: the still's clip, the template's name, `mixer` for a mixer change. */
export function graphicLabel(g) {
  if (!isObject(g)) return '?';
  if (g.kind === 'still') return String(g.clip ?? '?');
  if (g.kind === 'template') return String(g.template ?? '?');
  if (g.kind === 'mixer') return 'mixer';
  return String(g.kind ?? '?');
}

/** An event in a chip: `lt · 20 · +10s 8s` (id, layer, when it goes on: after the item's first
 * frame, or `-` before its end, and how long it stays on; no length: until the item ends). */
export function eventChip(ev) {
  const offset = isNumber(ev.offset_ms) ? ev.offset_ms : 0;
  const when = `${offset < 0 ? '-' : '+'}${shortSpan(offset)}`;
  const len = isNumber(ev.duration_ms) && ev.duration_ms > 0 ? ` ${shortSpan(ev.duration_ms)}` : '';
  return `${ev.id} · ${ev.layer} · ${when}${len}`;
}

const KIND_WORD = { still: 'still', template: 'template', mixer: 'mixer change' };

/** An event in words, for the chip's tooltip: `template LOWER_THIRD on layer 20, 10s after the
 * start, for 8s`. */
export function eventTitle(ev) {
  const g = ev.graphic;
  const kind = KIND_WORD[g?.kind] ?? 'graphic';
  const what = g?.kind === 'mixer' ? kind : `${kind} ${graphicLabel(g)}`;
  const offset = isNumber(ev.offset_ms) ? ev.offset_ms : 0;
  const when =
    offset < 0 ? `${shortSpan(offset)} before the end` : offset === 0 ? 'at the start' : `${shortSpan(offset)} after the start`;
  const len = isNumber(ev.duration_ms) && ev.duration_ms > 0 ? `for ${shortSpan(ev.duration_ms)}` : 'until the item ends';
  return `${what} on layer ${ev.layer}, ${when}, ${len}`;
}

/** The channel of playlist `p` (`1-10` → 1), or null. */
export function channelOf(p) {
  const m = /^(\d+)-\d+$/.exec(String(p?.channel_layer ?? ''));
  return m ? Number(m[1]) : null;
}

/** Where `p`'s channel is, as the operator reads it: `channel 1`, `studio-b channel 1`. */
export function channelLabel(p) {
  const ch = channelOf(p);
  const name = ch === null ? 'its channel' : `channel ${ch}`;
  return p?.server ? `${p.server} ${name}` : name;
}

/** The words for a live graphic's phase. */
export const PHASE_TEXT = { prepared: 'READY', on: 'ON', stopped: 'GOING OFF' };

/**
 * What onair has on the graphics layers of playlist `p`'s channel, by layer: every live graphic of
 * that channel on that server (a graphic's `server`, given only with several servers, and a
 * playlist's left out mean the station's first, the first server the link lists), whichever
 * playlist put it there. Each is `{layer, name, label, kind, data, phase, playlist, item, manual}`:
 * `kind` is `still`, `template` or null (not said), `data` a template's data as on air (an object,
 * or XML as a string) or null.
 */
export function channelGraphics(state, p) {
  const ch = channelOf(p);
  if (!p || ch === null || !Array.isArray(state?.graphics)) return [];
  const first = state.link?.servers?.[0]?.group ?? null;
  const server = p.server ?? first;
  return state.graphics
    .filter((g) => isObject(g) && g.channel === ch && isNumber(g.layer) && ((typeof g.server === 'string' ? g.server : null) ?? first) === server)
    .map((g) => ({
      layer: g.layer,
      name: String(g.name ?? ''),
      label: String(g.label ?? ''),
      kind: typeof g.kind === 'string' ? g.kind : null,
      data: isObject(g.data) || typeof g.data === 'string' ? g.data : null,
      phase: typeof g.phase === 'string' ? g.phase : 'on',
      playlist: String(g.playlist ?? ''),
      item: typeof g.item === 'string' ? g.item : null,
      manual: g.manual === true,
    }))
    .sort((a, b) => a.layer - b.layer);
}

/**
 * Playlist `p`'s standing logo, or null when it has none: `{layer, label, on, why}`. `on`: onair
 * has it on its layer (or loaded to go on), so the toggle offers to take it off; `why` says why it
 * is not on: `idle` (the playlist is not on air), `item` (the on-air item has the logo off), or
 * null (taken off by hand, or not put back yet).
 */
export function logoState(state, p) {
  if (!p || !isObject(p.logo)) return null;
  const live = channelGraphics(state, p).find((g) => g.name === 'logo' && g.playlist === p.id && g.phase !== 'stopped');
  let why = null;
  if (!live) {
    const po = p.playout ?? {};
    const item = Array.isArray(p.items) ? p.items.find((i) => i.id === po.on_air) : null;
    if (po.status === 'stopped' || !item) why = 'idle';
    else if (logoOff(item)) why = 'item';
  }
  return { layer: isNumber(p.logo.layer) ? p.logo.layer : null, label: graphicLabel(p.logo.graphic), on: !!live, why };
}

// ---- the Update and Invoke dialogs ------------------------------------------------------------------

/** Whether a live graphic (from `channelGraphics`) takes new data and function calls: a template
 * that is not going off already. */
export function takesData(g) {
  return g?.kind === 'template' && g.phase !== 'stopped';
}

/** The most a template's data may hold, in bytes of compact JSON or of XML (the daemon's limit). */
export const MAX_DATA_BYTES = 16 * 1024;

/** A template's data as the Update dialog shows it: an object as indented JSON, XML as it is,
 * `{}` when it has none. */
export function dataText(data) {
  if (typeof data === 'string') return data;
  if (isObject(data)) return JSON.stringify(data, null, 2);
  return '{}';
}

/**
 * What the operator typed in the Update dialog, as `graphics.update` takes it: `{data}` (an
 * object, or a string of template XML when the text starts with `<`), or `{error}` in words when
 * the daemon would refuse it. Anything else would be taken by CasparCG for the name of a stored
 * data file, so it is never sent.
 */
export function parseData(text) {
  const t = String(text ?? '').trim();
  let data;
  if (t.startsWith('<')) {
    // A textarea gives line feeds only; pasted text from elsewhere might not.
    if (t.includes('\r')) return { error: 'The XML contains a carriage return, which AMCP cannot carry: use line feeds.' };
    data = t;
  } else if (t === '') {
    return { error: 'Give the data: a JSON object such as {"name": "Ada"}, or template XML starting with <.' };
  } else {
    let v;
    try {
      v = JSON.parse(t);
    } catch (e) {
      return { error: `Not valid JSON: ${e.message}. Give a JSON object, or template XML starting with <.` };
    }
    if (!isObject(v)) {
      const what = Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`;
      return { error: `This is ${what}, not a JSON object: give {…} with the template's fields, or template XML starting with <.` };
    }
    data = v;
  }
  const bytes = new TextEncoder().encode(typeof data === 'string' ? data : JSON.stringify(data)).length;
  if (bytes > MAX_DATA_BYTES) return { error: `The data is ${bytes} bytes long; a template takes at most ${MAX_DATA_BYTES}.` };
  return { data };
}

/**
 * The name of the template function the Invoke dialog calls, trimmed: `{method}`, or `{error}` in
 * words. As the daemon: 1 to 256 characters, no control characters. Spaces inside are kept: a call
 * with its arguments, `leftTab('a b')`, is a method CasparCG's html producer takes as it is.
 */
export function parseMethod(text) {
  const m = String(text ?? '').trim();
  if (m === '') return { error: 'Give the name of one of the template’s functions, e.g. next_headline.' };
  if ([...m].length > 256) return { error: 'The name is longer than 256 characters.' };
  if (/\p{Cc}/u.test(m)) return { error: 'The name contains a control character.' };
  return { method: m };
}
