// The station's CasparCG servers (a main and its backup, issue 17) in the page's words: what each
// side is doing (`lead`, `in step`, the daemon's note when it is not, `down: …`), its drift
// (`drift +1f`), the clips it lacks (`2 clips missing on backup`), and the activity-log lines for a
// change (`CasparCG backup down: connection refused`).
//
// The words are the console's (src/tui/servers.rs), so operators at the desk and on the page read
// the same thing; docs/web-client.md and docs/operations.md, "Main and backup servers", describe
// them. Pure functions of the state: the DOM is app.js's, and tests/web/servers.test.mjs runs
// these under node.

/**
 * Beyond this many frames of drift the page shows it as a warning. It is the daemon's default
 * `playout.max_drift_frames`: the snapshot does not carry the configured limit, and a station that
 * set another one still gets the daemon's `drift` alarm at its own limit.
 */
export const DRIFT_WARN_FRAMES = 2;

/** Missing clips named in one activity-log line at most; the servers dialog lists them all. */
const NAMED_IN_LOG = 5;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `link.servers` as the daemon sent it, keeping only well-formed entries and fields. */
export function normalizeServers(list) {
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((s) => ({
    name: String(s.name ?? ''),
    role: s.role === 'backup' ? 'backup' : 'main',
    // The main it belongs to (older daemons: unset, one group).
    group: typeof s.group === 'string' && s.group !== '' ? s.group : String(s.name ?? ''),
    address: String(s.address ?? ''),
    connected: s.connected === true,
    state: String(s.state ?? ''),
    server_version: s.server_version == null ? null : String(s.server_version),
    lead: s.lead === true,
    in_step: s.in_step === true,
    note: s.note == null ? null : String(s.note),
    drift_frames: Number.isInteger(s.drift_frames) ? s.drift_frames : null,
    resync_ms: typeof s.resync_ms === 'number' && s.resync_ms >= 0 ? s.resync_ms : null,
    missing: Array.isArray(s.missing) ? s.missing.map(String) : [],
  }));
}

/** Whether the station has a main/backup pair: each side is then shown; one server is shown as
 * the `CasparCG …` pill alone, as before pairs existed. */
export function isPair(link) {
  return Array.isArray(link?.servers) && link.servers.length > 1;
}

/** `down`, `out` (connected, not playing what the station plays) or `step`. */
export function health(s) {
  if (!s.connected) return 'down';
  return s.in_step ? 'step' : 'out';
}

/** What the side does in a few words: `lead`, `in step`, the daemon's note, or its link state. */
export function serverStatus(s) {
  switch (health(s)) {
    case 'down':
      return s.state || 'down';
    case 'out':
      return s.note || 'out of step';
    default:
      return s.lead ? 'lead' : 'in step';
  }
}

/** `drift +1f`. */
export function driftText(frames) {
  return `drift ${frames < 0 ? '-' : '+'}${Math.abs(frames)}f`;
}

export function driftIsHigh(frames) {
  return Math.abs(frames) > DRIFT_WARN_FRAMES;
}

/** `caught up in 212 ms` (or `in 1.4 s`). */
export function caughtUp(ms) {
  return ms < 1000 ? `caught up in ${ms} ms` : `caught up in ${(ms / 1000).toFixed(1)} s`;
}

/** `2 clips missing on backup`, or null when the side has every clip the rundowns use. */
export function missingText(s) {
  const n = s.missing.length;
  if (n === 0) return null;
  return `${n} clip${n === 1 ? '' : 's'} missing on ${s.name}`;
}

/** `CLIP2, NEWS/OPENER` and, past `max` names, `and 3 more`. */
export function clipList(clips, max = Infinity) {
  const names = clips.slice(0, max);
  if (clips.length > max) names.push(`and ${clips.length - max} more`);
  return names.join(', ');
}

/**
 * The header's pills for a pair (none for one server): one per side, then one per side that lacks
 * clips. `health` is `down`, `out`, `step` (`missing` for a missing-clips pill), or `unknown` while
 * the page is not live (the last known state, uncoloured like the rest of the page); `text` is
 * `label` and `drift` together; `warn` marks a drift beyond the limit; `title` is the whole story
 * for a pointer's tooltip (the dialog has it for everyone).
 */
export function serverPills(link, live = true) {
  if (!isPair(link)) return [];
  const pills = link.servers.map((s) => {
    const label = `${s.name} · ${serverStatus(s)}`;
    const drift = s.drift_frames === null ? null : driftText(s.drift_frames);
    return {
      key: `server:${s.name}`,
      kind: 'server',
      health: live ? health(s) : 'unknown',
      lead: s.lead,
      warn: live && s.drift_frames !== null && driftIsHigh(s.drift_frames),
      label,
      drift,
      text: drift ? `${label} · ${drift}` : label,
      title: serverDetails(s).join('\n'),
    };
  });
  for (const s of link.servers) {
    const text = missingText(s);
    if (text) {
      pills.push({
        key: `missing:${s.name}`,
        kind: 'missing',
        health: live ? 'missing' : 'unknown',
        lead: false,
        warn: false,
        label: text,
        drift: null,
        text,
        title: `Missing on ${s.name}: ${clipList(s.missing)}`,
      });
    }
  }
  return pills;
}

/** `drift -3 frames, behind the main`: the sign said in words. */
function driftWords(frames) {
  if (frames === 0) return 'drift 0 frames';
  const unit = Math.abs(frames) === 1 ? 'frame' : 'frames';
  return frames < 0 ? `drift ${frames} ${unit}, behind the main` : `drift +${frames} ${unit}, ahead of the main`;
}

/** Everything the daemon says about one server, a line each, for the servers dialog. */
export function serverDetails(s) {
  const head = [s.name === s.role ? s.name : `${s.name} (${s.role})`, s.address].filter(Boolean);
  if (s.server_version) head.push(`CasparCG ${s.server_version}`);
  const state = [s.state || (s.connected ? 'connected' : 'down')];
  if (s.lead) state.push('lead (the daemon follows its telemetry)');
  const h = health(s);
  if (h === 'step') state.push('in step');
  if (h === 'out') state.push(`out of step: ${serverStatus(s)}`);
  const lines = [head.join(' · '), state.join(' · ')];
  const numbers = [];
  if (s.drift_frames !== null) numbers.push(driftWords(s.drift_frames));
  else if (s.role === 'backup' && s.connected) numbers.push('drift not measurable now');
  if (s.resync_ms !== null) numbers.push(`last ${caughtUp(s.resync_ms)}`);
  if (numbers.length) lines.push(numbers.join(' · '));
  const n = s.missing.length;
  lines.push(n === 0 ? 'every clip of the rundowns is there' : `${n} clip${n === 1 ? '' : 's'} missing: ${clipList(s.missing)}`);
  return lines;
}

/**
 * Activity-log lines for a `link` event of a pair (`before` and `after` are `link.servers`):
 * which side connected, went down, fell out of step or came back in step, which one the daemon
 * follows now, which clips a side lacks. Drift is not logged: it changes every second, and beyond
 * the limit the daemon raises a `drift` alarm. `level` is the page log's: `ok`, `warn`, `error`.
 */
export function serverChanges(before, after) {
  const out = [];
  const anyUp = after.some((s) => s.connected);
  for (const s of after) {
    const old = before.find((b) => b.name === s.name);
    const wasUp = !!old?.connected;
    const wasInStep = !!(old?.connected && old.in_step);
    if (s.connected && !wasUp) {
      const version = s.server_version ? ` (${s.server_version})` : '';
      const catching = s.in_step ? '' : `, ${serverStatus(s)}`;
      out.push({ level: 'ok', text: `CasparCG ${s.name} connected${version}${catching}` });
    } else if (!s.connected && (wasUp || !old)) {
      const reason = s.state.startsWith('down: ') ? s.state.slice(6) : s.state;
      // With the other side up, playout goes on there: a warning, as the daemon's alarm.
      out.push({ level: anyUp ? 'warn' : 'error', text: `CasparCG ${s.name} down: ${reason}` });
    } else if (s.connected && s.in_step && !wasInStep) {
      const took = s.resync_ms !== null ? ` (${caughtUp(s.resync_ms)})` : '';
      out.push({ level: 'ok', text: `CasparCG ${s.name} in step${took}` });
    } else if (s.connected && !s.in_step && old && (old.note !== s.note || old.in_step)) {
      out.push({ level: 'warn', text: `CasparCG ${s.name} out of step: ${serverStatus(s)}` });
    }
    if (s.lead && s.connected && old && !old.lead) {
      out.push({ level: 'ok', text: `CasparCG ${s.name} leads: the daemon follows its telemetry` });
    }
    const oldMissing = old?.missing ?? [];
    if (s.missing.join('\n') !== oldMissing.join('\n')) {
      const n = s.missing.length;
      out.push(
        n === 0
          ? { level: 'ok', text: `CasparCG ${s.name} has every clip again` }
          : { level: 'warn', text: `CasparCG ${s.name} lacks ${n} clip${n === 1 ? '' : 's'}: ${clipList(s.missing, NAMED_IN_LOG)}` },
      );
    }
  }
  return out;
}
