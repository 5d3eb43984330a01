// The live stream: one WebSocket to /api/ws, resumed from the last position
// seen after any interruption, so nothing is lost and nothing seen twice.

const POS_KEY = 'agenda.live.position.';

export class Live {
  constructor({ onEvent, onReset, onState, onExpired }) {
    this.onEvent = onEvent;
    this.onReset = onReset;
    this.onState = onState;
    this.onExpired = onExpired;
    this.ws = null;
    this.retry = 0;
    this.failed = 0; // handshakes in a row that never opened
    this.timer = null;
    this.stopped = true;
    this.run = 0; // counts start and stop: a probe's answer counts only in the run that asked
    window.addEventListener('online', () => { if (!this.stopped && !this.ws) this.connect(); });
  }

  start(token, userID) {
    this.stop();
    this.token = token;
    this.key = POS_KEY + userID;
    this.retry = 0;
    this.failed = 0;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.run++;
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000, 'bye');
    }
  }

  get last() { return Number(sessionStorage.getItem(this.key) || 0); }
  set last(p) { if (p > this.last) sessionStorage.setItem(this.key, String(p)); }

  connect() {
    clearTimeout(this.timer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const after = this.last;
    let url = `${proto}//${location.host}/api/ws?access_token=${encodeURIComponent(this.token)}`;
    if (after > 0) url += `&after=${after}`;
    this.onState('connecting');
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => { this.failed = 0; };
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (f.type === 'event') {
        if (f.position <= this.last) return;
        this.last = f.position;
        this.onEvent(f);
      } else if (f.type === 'caught_up') {
        this.last = f.position;
        this.retry = 0;
        this.onState('live');
      } else if (f.type === 'reset') {
        sessionStorage.setItem(this.key, String(f.position));
        this.onReset();
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4001) { this.onState('expired'); this.onExpired(); return; }
      // A refused handshake shows only as 1006, like a network failure.
      // Twice in a row, ask the feed why (probe).
      if (ev.code === 1006 && ++this.failed >= 2) {
        this.failed = 0;
        this.probe();
      }
      const delay = Math.min(15000, 500 * 2 ** this.retry++);
      this.onState('reconnecting');
      this.timer = setTimeout(() => this.connect(), delay);
    };
    // An error is always followed by close, which reconnects.
    ws.onerror = () => {};
  }

  // probe asks the feed, with the same token and position, what the stream
  // refused: a token no longer valid (401: the session has ended), or a
  // position this cluster never handed out (400: a restored backup, another
  // cluster; start again from the present, and reload what is shown).
  // Anything else (offline, a node restarting) is a failure to retry.
  //
  // The answer is for the session that asked: if the stream was stopped or
  // started for another one meanwhile (a logout, a login as someone else),
  // it is dropped.
  async probe() {
    const run = this.run;
    let res;
    try {
      res = await fetch(`/api/events?after=${this.last}&limit=1`,
        { headers: { Authorization: 'Bearer ' + this.token, Accept: 'application/json' } });
    } catch { return; }
    if (this.stopped || run !== this.run) return;
    if (res.status === 401) {
      this.stop();
      this.onState('expired');
      this.onExpired();
    } else if (res.status === 400) {
      sessionStorage.removeItem(this.key);
      this.onReset();
    }
  }
}
