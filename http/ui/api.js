// The API client: JSON in and out, the session's token, and errors turned
// into sentences a person can act on (never raw JSON, never a stack trace).

// SESSION_KEY holds the session in localStorage, shared by the tabs.
export const SESSION_KEY = 'agenda.session';

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.token && new Date(s.expires_at) > new Date()) return s;
  } catch { /* a damaged entry is no session */ }
  return null;
}

export function saveSession(s) { localStorage.setItem(SESSION_KEY, JSON.stringify(s)); }
export function clearSession() { localStorage.removeItem(SESSION_KEY); }

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

const generic = {
  0: 'Cannot reach the server. Check your connection and try again.',
  401: 'Your session has ended. Please log in again.',
  403: 'You are not allowed to do that.',
  404: 'That no longer exists, or you cannot see it.',
  413: 'That is too large.',
  429: 'Too many attempts. Please wait a moment and try again.',
  500: 'Something went wrong on the server. Please try again.',
  503: 'The service is busy or catching up. Please try again in a moment.',
};

// humane turns an API error message into a sentence.
function humane(status, message) {
  if (status >= 500 || !message) return generic[status] || generic[500];
  const m = String(message).slice(0, 300);
  return m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
}

// limited says a rate limit's refusal with when to try again in words
// ("in 3 minutes"), not the server's "retry in 180 s" (a review found the
// seconds, and nothing to say which limit, puzzling).
function limited(message, details) {
  const what = String(message || '').replace(/;\s*retry (in \d+ s|shortly)$/, '');
  const when = details && details.retry_after_seconds ? ` Try again in ${inWords(details.retry_after_seconds)}.` : ' Please wait a moment and try again.';
  return (what ? humane(429, what) : generic[429].split('.')[0] + '.') + when;
}

// inWords says a wait of secs seconds as a person would.
export function inWords(secs) {
  if (secs < 60) return secs === 1 ? '1 second' : `${secs} seconds`;
  const min = Math.ceil(secs / 60);
  if (min < 60) return min === 1 ? '1 minute' : `${min} minutes`;
  const hours = Math.ceil(min / 60);
  return hours === 1 ? '1 hour' : `${hours} hours`;
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// lastPosition is the highest X-Agenda-Position seen: reads ask for it, so
// that what this page wrote is always what it reads back (on any node).
let lastPosition = 0;
export function position() { return lastPosition; }

// api calls the API. ifMatch, if given, is the version the page last saw:
// the write applies only if no one changed the resource since (412
// otherwise, told as such).
export async function api(method, path, body, ifMatch) {
  const s = session();
  const headers = () => {
    const hs = { Accept: 'application/json' };
    if (ifMatch !== undefined) hs['If-Match'] = `"${ifMatch}"`;
    if (s) hs.Authorization = 'Bearer ' + s.token;
    if (body !== undefined) hs['Content-Type'] = 'application/json';
    if (method === 'GET' && lastPosition > 0 && path.startsWith('/api/')) hs['X-Agenda-Min-Position'] = String(lastPosition);
    return hs;
  };
  const res = await send(method, path, headers, body, s);
  const p = Number(res.headers.get('X-Agenda-Position'));
  if (method !== 'GET' && p > lastPosition) lastPosition = p;
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = (data && data.error) || {};
    // Only if the token refused is still the session's: a request sent
    // before another tab logged in anew must not end the new session.
    const now = session();
    if (res.status === 401 && s && now && now.token === s.token) onUnauthorized();
    // A write whose fate is unknown must not read as "try again": it may
    // have happened. The server's own words say to look first.
    const unknown = res.status === 503 && e.details && e.details.outcome === 'unknown';
    const message = res.status === 412 ? 'Someone changed this since you opened it. Reload the page to see the change, then try again.'
      : unknown ? humane(400, e.message)
        : e.code === 'rate_limited' ? limited(e.message, e.details) : humane(res.status, e.message);
    throw new ApiError(res.status, e.code || 'error', message, e.details);
  }
  return data;
}

// readRetries is how long a read waits before each new try: a read that
// met a dropped connection (the host's network changed, a node restarted)
// or a busy node (an election: 503) is tried again before the page says it
// could not load. Only reads: a write's second try could apply it twice.
// None starts later than retryWithin after the first: a node that
// answers 503 after waiting to catch up (readWait, 5 s) is not asked again,
// and a page of three reads fails in seconds, not a minute.
const readRetries = [300, 1000];
const retryWithin = 2000;

// send fetches, trying a read again as readRetries says, with headers made
// anew for each try (a write made meanwhile raises the position to read);
// not once the session it was sent for has ended or changed.
async function send(method, path, headers, body, s) {
  const began = Date.now();
  for (let attempt = 0; ; attempt++) {
    let res = null;
    try {
      res = await fetch(path, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });
    } catch { /* told below, or tried again */ }
    if (method === 'GET' && (!res || res.status === 503) && attempt < readRetries.length &&
      Date.now() + readRetries[attempt] - began <= retryWithin) {
      await new Promise((r) => setTimeout(r, readRetries[attempt]));
      if ((session() || {}).token === (s || {}).token) {
        if (res && res.body) res.body.cancel().catch(() => {});
        continue;
      }
    }
    if (!res) throw new ApiError(0, 'network', generic[0]);
    return res;
  }
}

// describe gives the sentence to show for any error.
export function describe(err) {
  if (err instanceof ApiError) return err.message;
  return generic[500];
}

// answered marks read the caller's unread invitations that an answer has
// just settled: of the appointment appointmentId, or to the group groupId.
// Answering is reading them (a review found the notification left unread
// after the invitation it announced was answered); the live stream's
// notification.read events then update the panel and its count. A failure
// here changes nothing of the answer, so it is not told.
export async function answered({ appointmentId, groupId }) {
  try {
    const unread = await api('GET', '/api/notifications?unread=true&limit=100');
    const settled = unread.filter((n) => {
      const p = n.payload || {};
      return appointmentId ? n.type === 'invitation' && p.appointment_id === appointmentId
        : n.type === 'group_invitation' && p.group_id === groupId;
    });
    await Promise.all(settled.map((n) => api('POST', `/api/notifications/${n.id}/read`)));
  } catch { /* the answer stands; the notification stays unread */ }
}
