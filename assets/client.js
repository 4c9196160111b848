// The WebSocket client of docs/ws-protocol.md: hello and snapshot, ordered events, resume after a
// dropped connection, reconnect with backoff, and commands answered by acks.
//
// No DOM here: the page (app.js) listens to `change` (state or connection changed), `progress`,
// `timeline` (a new plan in `timeline`) and `notice` (something the operator should read) events.

import { SNAPSHOT_SINCE, applyEvent, classifyEvent, emptyState, fromSnapshot, fromTimeline, isObject, normalizeProgress } from './state.js';

/** Reconnect delays: doubling from BASE up to CAP, each drawn from [d/2, d] so that many pages
 * reconnecting after a daemon restart do not arrive at the same instant. */
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 8000;
/** A connection that stayed in sync this long counts as stable: the next drop starts at BASE again
 * (a daemon that accepts and then drops us at once must not be hammered). */
const STABLE_MS = 5000;
/** The server's own WebSocket pings are invisible to page scripts, so the page checks liveness
 * itself: after IDLE_PING_MS without any message it sends `ping`; after DEAD_MS it gives the socket
 * up (a half-open TCP connection, e.g. after a laptop slept, may otherwise never fire `close`). */
const IDLE_PING_MS = 15000;
const DEAD_MS = 35000;
const WATCHDOG_MS = 5000;
/** Refusals before the upgrade in a row, while the daemon answers HTTP, before the page says a
 * token is probably needed (one refusal can be a daemon that is just shutting down: 503). */
const REFUSALS_BEFORE_TOKEN_HINT = 2;

/** Ops a viewer may run (docs/ws-protocol.md, "Tokens and roles"). */
const VIEWER_OPS = new Set(['health', 'stats']);

/** Why a command failed without an ack from the daemon. */
export class CommandError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class OnairClient extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.url  the `/ws` URL without query (`ws://host:port/ws`)
   * @param {string|null} [opts.token]  sent as `?token=` (browsers cannot set headers on a WebSocket)
   * @param {string} [opts.healthUrl]  an HTTP URL of the same daemon, fetched to tell "refused" from "down"
   */
  constructor({ url, token = null, healthUrl = null }) {
    super();
    this.url = url;
    this.token = token;
    this.healthUrl = healthUrl;
    this.state = emptyState();
    /** The daemon's planned timelines and station clock (`fromTimeline`), or null before the first
     * `timeline` of this daemon run (or from a daemon that sends none). */
    this.timeline = null;
    /** Whether `state` holds a snapshot's worth of data at all (else nothing to resume from). */
    this.hasState = false;
    this.bootId = null;
    this.role = null;
    this.serverVersion = null;
    /** `connecting` | `syncing` | `connected` | `reconnecting` | `refused` | `stopped` */
    this.status = 'connecting';
    /** True from connect until the state is complete for this connection. */
    this.synced = false;
    this.attempt = 0;
    this.nextAttemptAt = null;
    this.lastClose = null;
    this.refusals = 0;
    this.ws = null;
    this.pending = new Map();
    this.nextId = 1;
    this.timer = null;
    this.watchdog = null;
  }

  /** Opens the first connection. */
  start() {
    this.stopped = false;
    this.#connect();
  }

  /** Closes for good (no reconnect). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.#drop(1000, 'stopped by the page', true);
    this.#setStatus('stopped');
  }

  /** Changes the token and reconnects at once with it. */
  setToken(token) {
    this.token = token || null;
    this.refusals = 0;
    this.reconnectNow();
  }

  /** Skips the remaining backoff (the operator pressed "Reconnect now", or the network came back). */
  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) this.#drop(1000, 'reconnecting', false);
    this.attempt = 0;
    this.#connect();
  }

  /** Whether commands can be sent now. */
  get canCommand() {
    return this.status === 'connected' && this.role === 'operator';
  }

  /**
   * Sends a command; resolves with the ack (`ok` true or false), rejects with a CommandError when
   * it could not be sent or the connection dropped before the ack (it may or may not have run).
   */
  command(op, args = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.synced) {
      return Promise.reject(new CommandError('not_connected', 'not connected to the daemon'));
    }
    if (this.role !== 'operator' && !VIEWER_OPS.has(op)) {
      return Promise.reject(new CommandError('forbidden', 'this token is read-only (viewer)'));
    }
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { op, resolve, reject });
      this.ws.send(JSON.stringify({ type: 'command', id, op, args }));
    });
  }

  // ---- connection lifecycle -------------------------------------------------------------------

  #connect() {
    if (this.stopped) return;
    this.nextAttemptAt = null;
    const url = new URL(this.url);
    if (this.token) url.searchParams.set('token', this.token);
    // Resume in the URL (the protocol's preferred way): the daemon sends hello and then only the
    // missed events, or a snapshot if it cannot (other boot, buffer overrun).
    const resuming = this.hasState && this.bootId !== null;
    if (resuming) {
      url.searchParams.set('boot_id', this.bootId);
      url.searchParams.set('since', String(this.state.seq));
    }
    this.resumeFrom = resuming ? this.bootId : null;
    this.helloSeen = false;
    this.snapshotSeen = false;
    this.awaitingSnapshot = true;
    this.synced = false;
    this.opened = false;
    // While refused, each new attempt keeps saying so (no flicker to "reconnecting" and back).
    if (this.status !== 'refused') this.#setStatus(this.hasState ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch (e) {
      this.#emitNotice('error', `cannot open ${this.url}: ${e.message}`);
      this.#scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.lastRecv = Date.now();
    // Every handler first checks that its socket is still the current one: a socket given up by
    // the watchdog may still fire events later, and they must not touch the new connection.
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.opened = true;
      this.lastRecv = Date.now();
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      this.lastRecv = Date.now();
      this.#onMessage(e.data);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.#drop(e.code, e.reason, false);
      this.#afterClose();
    };
    ws.onerror = () => {
      // `close` always follows with the details; nothing to do here.
    };
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.#checkAlive(), WATCHDOG_MS);
  }

  /** Forgets the current socket: fails pending commands and remembers how the connection ended. */
  #drop(code, reason, byUs) {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.watchdog);
    this.watchdog = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (byUs || ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
        try {
          ws.close(code === 1000 ? 1000 : 4000, reason.slice(0, 100));
        } catch {
          // Already closing: nothing to do.
        }
      }
    }
    // A stable connection resets the backoff; a flapping one keeps growing it.
    if (this.syncedAt && Date.now() - this.syncedAt >= STABLE_MS) this.attempt = 0;
    this.syncedAt = null;
    this.wasOpened = this.opened;
    this.synced = false;
    this.lastClose = { code, reason: reason || '' };
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const p of lost) {
      p.reject(new CommandError('connection_lost', 'the connection dropped before the answer; it may or may not have been done'));
    }
  }

  async #afterClose() {
    const { code, reason } = this.lastClose;
    if (code === 1008 || code === 1009 || code === 1011) {
      // Policy closes tell the operator something actionable (rate limit, too slow, a bug).
      this.#emitNotice('error', `the daemon closed the connection (${code}${reason ? `: ${reason}` : ''})`);
    }
    if (!this.wasOpened && this.healthUrl) {
      // A browser hides the HTTP status of a refused upgrade (401 token, 403 origin, 429/503
      // limits). If the daemon answers plain HTTP, it is up and refusing us, not down.
      let up = false;
      try {
        const r = await fetch(this.healthUrl, { cache: 'no-store' });
        up = r.ok;
      } catch {
        up = false;
      }
      if (this.stopped || this.ws) return;
      if (up) {
        this.refusals += 1;
        if (this.refusals >= REFUSALS_BEFORE_TOKEN_HINT) {
          this.#setStatus('refused');
          this.#scheduleReconnect(true);
          return;
        }
      }
    } else {
      this.refusals = 0;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(keepStatus = false) {
    if (this.stopped) return;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.nextAttemptAt = Date.now() + delay;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.#connect();
    }, delay);
    if (!keepStatus) this.#setStatus('reconnecting');
    else this.#emit('change');
  }

  #checkAlive() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const idle = Date.now() - this.lastRecv;
    if (idle >= DEAD_MS) {
      this.#emitNotice('warn', `no answer from the daemon for ${Math.round(idle / 1000)} s; reconnecting`);
      this.#drop(4000, 'no answer', true);
      this.#scheduleReconnect();
    } else if (idle >= IDLE_PING_MS) {
      this.#send({ type: 'ping' });
    }
  }

  #send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // ---- messages -------------------------------------------------------------------------------

  #onMessage(data) {
    if (typeof data !== 'string') return; // the daemon only sends text frames
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('onair: ignoring a frame that is not JSON');
      return;
    }
    if (!isObject(msg)) return;
    switch (msg.type) {
      case 'hello':
        return this.#onHello(msg);
      case 'snapshot':
        return this.#onSnapshot(msg);
      case 'event':
        return this.#onEvent(msg);
      case 'progress':
        this.state.progress = normalizeProgress(msg.progress);
        return this.#emit('progress');
      case 'timeline':
        this.timeline = fromTimeline(msg);
        return this.#emit('timeline');
      case 'ack':
        return this.#onAck(msg);
      case 'error':
        return this.#emitNotice('error', `daemon: ${msg.code ?? 'error'}: ${msg.message ?? ''}`);
      case 'shutdown':
        // The close (1001) follows; the daemon is probably restarting, so try again soon.
        this.attempt = 0;
        return this.#emitNotice('warn', 'the daemon is shutting down; will reconnect');
      case 'pong':
        return undefined;
      default:
        // New message kinds may be added to the protocol; an older page ignores them.
        return undefined;
    }
  }

  #onHello(msg) {
    this.helloSeen = true;
    this.role = msg.role === 'operator' ? 'operator' : 'viewer';
    this.serverVersion = typeof msg.server_version === 'string' ? msg.server_version : null;
    const boot = String(msg.boot_id ?? '');
    if (this.resumeFrom !== null && this.resumeFrom === boot) {
      // Same daemon run: the missed events follow (or a snapshot if it cannot serve them). We are in
      // sync once our seq reaches the one the daemon had when it said hello.
      this.awaitingSnapshot = false;
      this.syncTarget = typeof msg.seq === 'number' ? msg.seq : this.state.seq;
      this.bootId = boot;
      if (this.state.seq >= this.syncTarget) this.#markSynced();
      else this.#setStatus('syncing');
    } else if (this.snapshotSeen) {
      // The protocol sends hello first; should a snapshot ever come before it, it is already the
      // whole state of this connection.
      this.bootId = boot;
    } else {
      // First connection, or the daemon restarted: only a snapshot can tell us the state, and any
      // event before it belongs to a stream we have not joined.
      if (this.resumeFrom !== null) this.#emitNotice('info', 'the daemon restarted; reloading the full state');
      // Planned from another run's revisions; the new run sends its own after the snapshot.
      if (this.bootId !== boot) this.timeline = null;
      this.awaitingSnapshot = true;
      this.bootId = boot;
      this.#setStatus('syncing');
    }
  }

  #onSnapshot(msg) {
    // A snapshot always replaces the whole state, whenever it comes (first, resume, slow-client
    // resync), keeping nothing from before.
    this.state = fromSnapshot(msg);
    this.hasState = true;
    this.snapshotSeen = true;
    this.awaitingSnapshot = false;
    this.resumeRequested = false;
    this.#markSynced();
  }

  #onEvent(msg) {
    if (!this.helloSeen || this.awaitingSnapshot || !this.hasState) return;
    switch (classifyEvent(this.state.seq, msg.seq)) {
      case 'apply':
        this.resumeRequested = false;
        if (!applyEvent(this.state, msg)) return this.#reload(msg);
        if (!this.synced && this.state.seq >= this.syncTarget) this.#markSynced();
        else this.#emit('change', msg);
        return;
      case 'gap':
        // Never happens on a live connection by the protocol's promise; if it does, ask the daemon
        // to replay from what we hold (once; the replay resends what we ignore meanwhile).
        if (!this.resumeRequested && this.synced) {
          this.resumeRequested = true;
          this.#send({ type: 'resume', boot_id: this.bootId, since: this.state.seq });
        }
        return;
      default:
        return; // duplicate or malformed: already applied or unusable
    }
  }

  /**
   * An event that does not fit the copy (malformed, about an item the copy lacks, or of a kind this
   * page does not know): the copy is wrong and a replay from its `seq` would bring the same event
   * again, so ask for a whole snapshot, ignoring events until it comes.
   */
  #reload(msg) {
    console.warn('onair: event', msg.seq, `(${String(msg.kind)}) does not fit this page's copy; reloading the state`);
    this.awaitingSnapshot = true;
    this.synced = false;
    this.#send({ type: 'resume', boot_id: this.bootId, since: SNAPSHOT_SINCE });
    this.#setStatus('syncing');
  }

  #onAck(msg) {
    const id = typeof msg.id === 'string' ? msg.id : null;
    const p = id === null ? undefined : this.pending.get(id);
    if (!p) return; // not ours (or already failed by a drop)
    this.pending.delete(id);
    p.resolve(msg);
  }

  #markSynced() {
    this.synced = true;
    this.syncedAt = Date.now();
    this.refusals = 0;
    this.#setStatus('connected');
  }

  #setStatus(status) {
    this.status = status;
    this.#emit('change');
  }

  /** `detail` is the event a `change` applied, if one did: the page redraws only what it touched. */
  #emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #emitNotice(level, text) {
    this.dispatchEvent(new CustomEvent('notice', { detail: { level, text } }));
  }
}
