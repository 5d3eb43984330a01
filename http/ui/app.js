// The Agenda web UI: routing, the session, the notifications panel and the
// live stream that keeps every view current without a reload.

import { api, describe, inWords, session, saveSession, clearSession, whenUnauthorized, ApiError, SESSION_KEY } from './api.js';
import { onRedraw, onTell, busy, navigationAsked, navigationShown, keyOutputs, keepOutputs } from './view.js';
import { Live } from './live.js';
import { h, field, errorBox, fill, tz, fmtRange, fmtDateTime, personName, ownName, typedUsername, typedName, toCome, iso } from './dom.js';
import { weekView, agendaView, appointmentForm, appointmentView, editView, invitationsView } from './appointments.js';
import { groupsView, groupView, freeSlotsView, TOP_RANK } from './groups.js';
import { meView } from './me.js';

const main = document.getElementById('main');
const $ = (id) => document.getElementById(id);
let groupInvitesServed = false; // whether this server has /api/group-invitations

// ---------------------------------------------------------------------------
// Session.

// shownToken is the token this tab is signed in with. Tabs share the
// session (localStorage): a logout or login in one reaches the others
// through the storage event, at once rather than at their next request.
let shownToken = null;

function signedIn(s) {
  shownToken = s.token;
  $('nav').hidden = false;
  $('session').hidden = false;
  $('who').textContent = ownName(s.user);
  if (!stacked()) showPanel(true); // beside the page, not above it
  live.start(s.token, s.user.id);
  loadNotifications();
  refreshCounts();
  clearTimeout(signedIn.timer);
  const left = new Date(s.expires_at) - new Date();
  signedIn.timer = setTimeout(() => logout('Your session has ended. Please log in again.'), Math.min(left, 2 ** 31 - 1));
}

function logout(message) {
  const mine = shownToken;
  shownToken = null;
  live.stop();
  clearTimeout(signedIn.timer);
  // Forget the session only if it is still the one this tab showed: another
  // tab may have logged in anew meanwhile.
  const s = session();
  if (!s || s.token === mine) clearSession();
  $('nav').hidden = true;
  $('session').hidden = true;
  showPanel(false);
  forgetUser();
  if (message) toast(message);
  window.location.hash = '#/login';
  route();
}

// forgetUser clears what the tab shows of the user signed in: nothing of
// theirs stays for the next one to see, whether the tab logs out or
// another tab signs someone else in.
function forgetUser() {
  clearTimeout(refreshTimer);
  $('notif-list').replaceChildren();
  $('notif-list').classList.remove('loaded');
  freshPage();
  bumpUnread(0, 0);
  $('invite-count').hidden = true;
  hideToast();
}

// A 401 while this tab is logging out is the logout's own doing (a request
// sent as the token ended): the logout says nothing of a session that ended.
let loggingOut = null;
whenUnauthorized(() => { if (!loggingOut || loggingOut !== shownToken) logout('Your session has ended. Please log in again.'); });

window.addEventListener('storage', (ev) => {
  if (ev.key !== null && ev.key !== SESSION_KEY) return; // null: storage cleared
  const s = session();
  if (!s) {
    if (shownToken) logout('Your session ended in another tab.');
    return;
  }
  if (s.token === shownToken) {
    // The same session, renamed in another tab.
    $('who').textContent = ownName(s.user);
    return;
  }
  if (shownToken) {
    live.stop();
    forgetUser();
    // The last user's page goes at once too, not once the new one's is
    // drawn: meanwhile its buttons would act with the new session.
    fill(main, h('p', { class: 'hint' }, 'Loading…'));
    document.title = 'Agenda';
  }
  signedIn(s);
  showAsked();
});

// showAsked shows, once signed in, the page the address names, or the week
// if it names the login or register page (or none).
function showAsked() {
  if (/^#\/(login|register)?$/.test(window.location.hash || '#/')) window.location.hash = '#/week';
  else route();
}

// loginRefusal says why a login was refused. Failed logins are limited per
// username, so someone else's guesses can hold the person back; a browser
// that logged in as them before has a limit of its own (the server's
// device cookie), which a review found the page never said.
function loginRefusal(err) {
  const d = err.details || {};
  const when = d.retry_after_seconds ? inWords(d.retry_after_seconds) : 'a few minutes';
  if (err.code === 'rate_limited' && d.limit === 'login_user') {
    return `Too many failed attempts to log in to this account lately. Try again in ${when}. ` +
      'If they were not all yours, someone may be guessing the password: on a browser where you have logged in before, you can log in now.';
  }
  if (err.code === 'rate_limited' && d.limit === 'login_device') {
    return `Too many failed attempts to log in from this browser. Try again in ${when}.`;
  }
  return describe(err);
}

function authForm(kind) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', required: true,
    autocomplete: kind === 'login' ? 'current-password' : 'new-password' });
  const display = h('input', { name: 'display_name', autocomplete: 'name' });
  const out = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, kind === 'login' ? 'Log in' : 'Create account');
  const form = h('form', { class: 'form narrow', id: `${kind}-form` },
    field('Username', username, kind === 'register' ? '3–32 characters: a–z, 0–9, _ . -' : null),
    field('Password', password, kind === 'register' ? 'At least 8 characters.' : null),
    kind === 'register' ? field('Display name (optional)', display) : null,
    out, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!typedUsername(username.value) || !password.value) { fill(out, errorBox('Please fill in your username and password.')); return; }
    busy(submit, async () => {
      try {
        const name = typedUsername(username.value);
        if (kind === 'register') {
          const body = { username: name, password: password.value };
          const chosen = typedName(display.value);
          if (chosen) body.display_name = chosen;
          await api('POST', '/api/auth/register', body);
        }
        const res = await api('POST', '/api/auth/login', { username: name, password: password.value });
        // Another tab's login meanwhile signed this tab in: it stays so.
        if (shownToken) return;
        saveSession({ token: res.token, expires_at: res.expires_at, user: res.user });
        signedIn(session());
        // The page asked for before the login (a link to an appointment,
        // say), or the week.
        showAsked();
      } catch (err) {
        fill(out, errorBox(err.status === 401 ? 'Wrong username or password.' : loginRefusal(err)));
      }
    });
  });
  fill(main,
    h('h1', {}, kind === 'login' ? 'Log in' : 'Create an account'), form,
    kind === 'login' ? h('p', {}, 'New here? ', h('a', { href: '#/register' }, 'Create an account'), '.')
      : h('p', {}, 'Have an account? ', h('a', { href: '#/login' }, 'Log in'), '.'));
  username.focus();
  // The title is this page's: not the last one of whoever was signed in.
  document.title = `${kind === 'login' ? 'Log in' : 'Create an account'} · Agenda`;
}

// ---------------------------------------------------------------------------
// Notifications.

// noteText says what a notification tells, naming who did it where the
// server could (actor: who acted; subject: who answered, joined, left).
// A notification whose people are unknown here keeps the plain text.
function noteText(n) {
  const p = n.payload || {};
  const t = p.title ? `“${iso(p.title)}”` : 'an appointment';
  const g = p.group_name ? `“${iso(p.group_name)}”` : 'a group';
  const me = session() && session().user.id;
  const by = n.actor ? personName(n.actor) : '';
  const who = n.subject ? personName(n.subject) : by;
  switch (n.type) {
    case 'invitation': return by ? `${by} invites you to ${t}` : `Invitation: ${t}`;
    case 'imposed': return by ? `${by} put ${t} in your agenda` : `Added to your agenda: ${t}`;
    case 'accepted': return who ? `${who} accepted ${t}` : `Accepted: ${t}`;
    case 'declined': return who ? `${who} declined ${t}` : `Declined: ${t}`;
    // Everyone taking part accepted, or the last one yet to answer left.
    case 'confirmed': return `Confirmed: ${t}`;
    case 'cancelled':
      if (p.reason === 'declined') return by ? `${by} declined ${t}, so it is cancelled` : `Cancelled: ${t}, someone declined`;
      if (p.reason === 'organiser_left') {
        // Its organiser left the group, or was removed from it (by the actor).
        if (!by) return `Cancelled: ${t}, its organiser left the group`;
        if (p.by === p.organiser_id) return `${by} left the group, so ${t} is cancelled`;
        if (p.organiser_id === me) return `${by} removed you from the group, so ${t} is cancelled`;
        return `${by} removed its organiser from the group, so ${t} is cancelled`;
      }
      return by ? `${by} cancelled ${t}` : `Cancelled: ${t}`;
    case 'updated': return by ? `${by} changed ${t}` : `Changed: ${t}`;
    case 'participant_removed':
      // Told to the organiser: the one gone left the group, or someone
      // (the actor) removed them from it.
      if (p.reason === 'left' || !by || by === who) return `${who || 'Someone'} left the group, so no longer takes part in ${t}`;
      return `${by} removed ${who} from the group, so they no longer take part in ${t}`;
    case 'group_invitation': return by ? `${by} invites you to join ${g}` : `Invitation to join ${g}`;
    case 'group_invitation_declined': return who ? `${who} declined your invitation to ${g}` : `Your invitation to ${g} was declined`;
    case 'member_added':
      if (p.user_id === me) return by ? `${by} made you a member of ${g}` : `You are now a member of ${g}`;
      return who ? `${who} joined ${g}` : `A member joined ${g}`;
    case 'member_removed':
      if (p.left) return who ? `${who} left ${g}` : `A member left ${g}`;
      if (p.deleted) return `${by || 'Its creator'} deleted ${g} before you answered its invitation`;
      if (p.invited) return by ? `${by} withdrew your invitation to ${g}` : `Your invitation to ${g} was withdrawn`;
      // Told to the member removed.
      return by ? `${by} removed you from ${g}` : `You are no longer a member of ${g}`;
    case 'rank_changed':
      // The top rank (agenda.MaxRank) is never set by hand: it comes to the
      // heir of a creator who left, with creator_changed.
      if (p.rank === TOP_RANK) return by ? `${by} left ${g}: you now hold its top rank` : `You now hold the top rank in ${g}`;
      return by ? `${by} set your rank in ${g} to ${p.rank}` : `Your rank in ${g} is now ${p.rank}`;
    // Only a creator who leaves hands the rights on: nobody outranks them,
    // and in a flat group only they remove anyone.
    case 'creator_changed': return by ? `${by} left ${g}: you now hold the creator's rights` : `You now hold the creator's rights in ${g}`;
    case 'group_deleted': return `${by || 'Its creator'} deleted ${g}: its confirmed appointments stay in your agenda`;
    default: return 'Something changed';
  }
}

function noteItem(n) {
  const p = n.payload || {};
  // Following a notification's link reads it, as the Mark read button does.
  const read = async () => {
    if (n.read_at) return;
    const mine = shownToken; // nothing of it for whoever signs in meanwhile
    try {
      await api('POST', `/api/notifications/${n.id}/read`);
      if (shownToken !== mine) return;
      n.read_at = new Date().toISOString();
      markRead(n.id);
    } catch (err) {
      if (shownToken !== mine || err.status === 401) return;
      // Pruned meanwhile (a user keeps their newest 1,000): the panel
      // shows what is left instead of an error.
      if (err.status === 404) { await loadNotifications(); return; }
      toast(describe(err));
    }
  };
  // On a narrow screen the panel sits above the page: it closes, so that
  // the page the link opens is what one sees (a review found a tap seem to
  // do nothing).
  const follow = (ev) => {
    if (stacked()) {
      showPanel(false);
      // The page it links to may be the one shown: no navigation then,
      // but the focus the hidden link had goes to the page.
      if (window.location.hash === ev.currentTarget.getAttribute('href')) { main.scrollIntoView(); focusHeading(); }
    }
    read();
  };
  const link = (href) => h('a', { href, onclick: follow }, noteText(n));
  const li = h('li', { class: 'note' + (n.read_at ? '' : ' unread'), dataset: { id: n.id, type: n.type } },
    p.appointment_id ? link(`#/appointment/${p.appointment_id}`) :
      n.type === 'group_invitation' ? link('#/invitations') :
        // The group page only for those who may open it: not someone
        // removed from it, nor someone only invited, nor anyone once the
        // group is deleted.
        p.group_id && !(n.type === 'member_removed' && !p.left) && n.type !== 'group_deleted' ? link(`#/group/${p.group_id}`) :
          h('span', {}, noteText(n)),
    // The appointment's time, then when it came (a review could
    // not tell the two dates apart).
    p.start ? h('small', {}, fmtRange(p.start, p.end)) : null,
    h('small', { class: 'at' }, `Received ${fmtDateTime(n.created_at)}`));
  if (!n.read_at) {
    li.append(h('button', { type: 'button', class: 'link', onclick: read, 'aria-label': `Mark read: ${noteText(n)}` }, 'Mark read'));
  }
  return li;
}

// markRead marks one listed notification read (read elsewhere: another
// tab, another device), leaving the rest of the panel, and its focus, be.
function markRead(id) {
  const li = id && document.querySelector(`.note[data-id="${CSS.escape(id)}"]`);
  // One not listed (older than the panel's newest 50, read by answering
  // its invitation, say) may have been counted: count again.
  if (!li) { if (id) loadNotifications(); return; }
  if (!li.classList.contains('unread')) return;
  li.classList.remove('unread');
  // The button goes (here, or by the live event that may come first): its
  // focus goes to the notification itself.
  const b = li.querySelector('button');
  if (b) {
    const focused = document.activeElement === b;
    b.remove();
    if (focused) li.firstElementChild.focus();
  }
  bumpUnread(-1);
}

let unread = 0;
const UNREAD_MAX = 100;
function bumpUnread(d, set) {
  unread = set !== undefined ? set : Math.max(0, unread + d);
  const b = $('unread-count');
  b.hidden = unread === 0;
  b.textContent = unread >= UNREAD_MAX ? `${UNREAD_MAX}+` : String(unread);
  b.setAttribute('aria-label', `${b.textContent} unread`);
  // Nothing to mark: the button goes, handing the focus it had to the
  // panel's heading rather than to nothing.
  const readAll = $('read-all');
  if (unread === 0 && document.activeElement === readAll) { $('notif-title').tabIndex = -1; $('notif-title').focus(); }
  readAll.hidden = unread === 0;
}

// loadNotifications fills the panel and the unread count. Its answers
// count only if the same session is still shown when they come: after a
// logout, or a login as someone else, they are another user's.
async function loadNotifications() {
  const mine = shownToken;
  try {
    const list = await api('GET', '/api/notifications?limit=50');
    if (shownToken !== mine) return;
    $('notif-list').replaceChildren(...list.map(noteItem));
    $('notif-list').classList.add('loaded'); // "No notifications yet." only now
    // The count is of every unread one, not only of those listed.
    const unreadList = await api('GET', `/api/notifications?unread=true&limit=${UNREAD_MAX}`);
    if (shownToken !== mine) return;
    bumpUnread(0, unreadList.length);
  } catch (err) { if (shownToken === mine) $('live-state').textContent = describe(err); }
}

// stacked says whether the notifications sit above the page rather than
// beside it: style.css stacks them at 900 px and less (a review found the
// panel opened in the stacked layout at exactly 900, asked the other way).
function stacked() { return window.matchMedia('(max-width: 900px)').matches; }

function showPanel(on) {
  $('notifications').hidden = !on;
  $('notif-toggle').setAttribute('aria-expanded', String(on));
}

// ---------------------------------------------------------------------------
// Live updates.

let refreshTimer = null;
const live = new Live({
  onEvent(f) {
    if (f.notification) {
      const n = typeof f.notification === 'string' ? JSON.parse(f.notification) : f.notification;
      if (!document.querySelector(`.note[data-id="${n.id}"]`)) {
        $('notif-list').prepend(noteItem(n));
        bumpUnread(1);
        toast(noteText(n));
      }
    }
    if (f.event_type === 'notification.all_read') loadNotifications();
    if (f.event_type === 'notification.read') markRead(f.data && f.data.notification_id);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { refreshCounts(); route(true); }, 150);
  },
  // A reset may follow anything missed (an event that closed the feed
  // before it): every count is read again, as at start.
  onReset() { loadNotifications(); refreshCounts(); route(true); },
  onState(s) {
    $('live-state').textContent = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Connection lost — reconnecting…', expired: 'Session ended' }[s] || '';
    $('live-state').dataset.state = s;
  },
  onExpired() { logout('Your session has ended. Please log in again.'); },
});

async function refreshCounts() {
  const mine = shownToken;
  try {
    // Invitations to what has ended wait for nothing: they are listed,
    // apart, but not counted.
    const list = (await api('GET', '/api/invitations')).filter((a) => toCome(a));
    let n = list.length;
    if (groupInvitesServed) n += (await api('GET', '/api/group-invitations')).length;
    if (shownToken !== mine) return; // another user's count (see loadNotifications)
    const b = $('invite-count');
    b.hidden = n === 0;
    b.textContent = String(n);
  } catch { /* the badge is a convenience */ }
}

// ---------------------------------------------------------------------------
// Cluster page.

// clusterView draws the cluster page in place, unless another page was
// asked for meanwhile (token, route's rendering count). A status that takes
// longer than a refresh period counts as failed: refreshes never pile up.
async function clusterView(token) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 2500);
  const res = await fetch('/cluster/status', { headers: { Accept: 'application/json' }, signal: ctl.signal }).catch(() => null);
  const s = res && res.ok ? await res.json().catch(() => null) : null;
  clearTimeout(timer);
  if (token !== rendering) return;
  if (!s) {
    // A refresh that failed leaves the last status shown, marked as such.
    const hint = document.getElementById('cluster-hint');
    if (hint) hint.textContent = `Could not refresh at ${new Date().toLocaleTimeString()}; trying again every few seconds.`;
    throw new Error('cluster');
  }
  // Drawn in place every few seconds: the focus, if on the page, goes
  // back to its heading rather than to the document's body.
  const hadFocus = main.contains(document.activeElement) || document.activeElement === document.body;
  fill(main,
    h('h1', {}, 'Cluster'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'This node'), h('dd', {}, `${s.node_id} (${s.state})`),
      h('dt', {}, 'Leader'), h('dd', {}, s.leader_id ? `${s.leader_id} at ${s.leader_addr}` : 'none known'),
      h('dt', {}, 'Term'), h('dd', {}, String(s.term)),
      h('dt', {}, 'Commit / applied index'), h('dd', {}, `${s.commit_index} / ${s.applied_index}`),
      h('dt', {}, 'Read model position'), h('dd', {}, String(s.position))),
    h('h2', {}, 'Nodes'),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Node', 'Address', 'Role', 'Last seen'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, s.nodes.map((n) => h('tr', {}, h('td', {}, n.id, n.id === s.leader_id ? h('span', { class: 'tag' }, 'leader') : null),
        h('td', {}, n.address), h('td', {}, n.suffrage), h('td', {}, n.last_seen ? fmtDateTime(n.last_seen) : '—')))))),
    h('p', { class: 'hint', id: 'cluster-hint', 'aria-live': 'polite' }, 'Refreshes every few seconds.'));
  if (hadFocus) focusHeading();
}

// ---------------------------------------------------------------------------
// Routing.

// route draws the page the location names. refresh is true for a live
// refresh (an event arrived: never over a form being filled in, and a page
// that failed to load keeps what it shows, unless it is gone), 'action'
// after the user's own action on the page (drawn anew in place), and
// absent for a navigation.
let rendering = 0;

// navigating is the navigation still loading, if any (its number, see
// view.js). A live refresh
// meanwhile would take its place (and on failure keep the old page under
// the new address): it waits for the navigation instead, and runs after
// it if an event came meanwhile (missedRefresh). It waits as well for the
// redraw after one's own action (acting counts those under way), which it
// would otherwise drop, then find the action's text still in its field
// and tell the action as a change made meanwhile (a review found an Add
// told so).
let navigating = null;
let missedRefresh = false;
let acting = 0;

async function route(refresh, acted) {
  if (refresh === true && (navigating || acting)) { missedRefresh = true; return; }
  if (refresh === 'action') {
    acting++;
    try {
      await draw(refresh, acted);
    } finally {
      if (--acting === 0 && !navigating && missedRefresh) { missedRefresh = false; route(true); }
    }
    return;
  }
  if (refresh) { await draw(refresh); return; }
  const mine = navigationAsked();
  navigating = mine;
  try {
    await draw(refresh);
  } finally {
    if (navigating === mine) {
      navigating = null;
      navigationShown(mine);
      if (missedRefresh) { missedRefresh = false; route(true); }
    }
  }
}

// formSubjectGone says whether the group or appointment a page of forms is
// about (#/free/<group>, #/edit/<appointment>) is gone for the user: a
// live refresh then draws the page anew, to say so. Any other answer
// keeps the form as it is.
async function formSubjectGone(parts) {
  const path = { free: '/api/groups/', edit: '/api/appointments/' }[parts[0]];
  if (!path || !parts[1]) return false;
  try {
    await api('GET', path + encodeURIComponent(parts[1]));
    return false;
  } catch (err) {
    return err instanceof ApiError && err.status === 404;
  }
}

// typing says whether the user is filling something in on the page: a
// field holds something else than the page drew in it. A
// live refresh then leaves the page alone, and comes once they are done
// (staleWhileTyping, settled when the focus leaves a field).
function typing() {
  // A field that has the focus but holds what was drawn loses nothing to a
  // redraw, which gives it the focus back (refocus). A transient field (the
  // week's date) holds the refresh back only while it has the focus: one
  // typing a date would lose it before their Enter.
  return [...main.querySelectorAll('input, textarea, select')]
    .some((el) => (!el.dataset.transient || el === document.activeElement) && changed(el));
}

function changed(el) {
  if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
  if (el.tagName === 'SELECT') {
    const d = [...el.options].findIndex((o) => o.defaultSelected);
    return el.selectedIndex !== (d < 0 ? 0 : d);
  }
  // A textarea's value has its line breaks as LF whatever the text it was
  // drawn with (a description sent with CR LF through the API).
  if (el.tagName === 'TEXTAREA') return el.value !== el.defaultValue.replace(/\r\n?/g, '\n');
  return el.value !== el.defaultValue;
}

let staleWhileTyping = false;
// freshPage forgets that a live refresh waits: the page shown is drawn
// anew, or another user's is coming.
function freshPage() {
  staleWhileTyping = false;
  $('page-state').textContent = '';
}
main.addEventListener('focusout', () => setTimeout(() => {
  if (staleWhileTyping && !typing()) { staleWhileTyping = false; route(true); }
}));

// markStale says that a live refresh is held back while someone types:
// a review found a page frozen with no word of it (a username left in the
// add form after "No such user." kept a member shown as invited after
// they joined). Showing the changes draws the page anew, as an action
// does, typed text or not. It is called once the page has been drawn anew
// aside, and only if that differs from what is shown (a review saw it for
// an event of another page); the standing live region outside the page
// announces it, as one inserted already filled is seldom read out.
function markStale() {
  if (main.querySelector('.stale')) return;
  const said = 'This page has changed since you started typing.';
  main.prepend(h('p', { class: 'stale' }, `${said} `,
    h('button', { type: 'button', class: 'link', onclick: () => route('action') }, 'Show the changes'),
    ' (what you typed here is cleared).'));
  $('page-state').textContent = said;
}

// pageText is what a page shows as drawn, which a page drawn anew is
// compared with: its text, and the values its fields were drawn with (a
// rank changed meanwhile), their state and its links' targets; not what
// was typed since, what the page says of the last action (its live
// outputs), the notice above nor the suggestions typed for, as a page drawn
// anew has none of them.
function pageText(root) {
  let s = '';
  for (const n of root.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) { s += n.textContent; continue; }
    if (n.nodeType !== Node.ELEMENT_NODE || n.hasAttribute('aria-live') || n.classList.contains('stale') || n.tagName === 'DATALIST') continue;
    if (n.tagName === 'INPUT') s += `[${n.defaultValue}|${n.defaultChecked}|${n.disabled}]`;
    else if (n.tagName === 'OPTION' && n.defaultSelected) s += '[selected]';
    else if (n.tagName === 'A') s += `[${n.getAttribute('href')}]`;
    s += pageText(n);
  }
  return s;
}

// A form the browser refuses to send (a field out of its range) makes the
// errors of the last attempt stale: they go, rather than answer this one.
main.addEventListener('invalid', () => {
  for (const o of main.querySelectorAll('[aria-live="assertive"]')) o.replaceChildren();
}, true);

// acted is the button whose action asked for this redraw, if one did.
async function draw(refresh, acted) {
  const live = refresh === true;
  const [path, query] = (window.location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  const s = session();
  if (!s && parts[0] !== 'register') {
    if (refresh) return;
    // A page still loading for the session that ended must not draw over
    // the form once its answer comes.
    ++rendering;
    authForm('login');
    return;
  }
  // A live refresh never replaces a form someone is filling in, nor what
  // they typed anywhere on the page: a page of forms is not drawn anew at
  // all; any other is, aside, and shown only if nothing was typed once it
  // is ready (markStale says when it differs).
  // Except where what a form is about is gone (an appointment deleted, a
  // group one was removed from or that was deleted): that is said, typed
  // text or not (a review found a deleted group's free-slot form kept).
  if (live && ['new', 'edit', 'free', 'login', 'register', 'me'].includes(parts[0]) && !(await formSubjectGone(parts))) return;
  const me = s && s.user.id;
  const token = ++rendering;
  const target = document.createElement('div');
  // Set when what the page is about is gone: the page says so at once,
  // even over typed text, which could only be sent to be refused.
  let pageGone = false;
  try {
    switch (parts[0] || 'week') {
      case 'login': if (s) { window.location.hash = '#/week'; return; } authForm('login'); return;
      case 'register': if (s) { window.location.hash = '#/week'; return; } authForm('register'); return;
      case 'week': await weekView(target, params); break;
      case 'agenda': await agendaView(target); break;
      case 'new': await appointmentForm(target, params); break;
      case 'edit': await editView(target, parts[1]); break;
      case 'appointment': await appointmentView(target, parts[1], me); break;
      case 'invitations': await invitationsView(target, groupInvitesServed); break;
      case 'groups': await groupsView(target); break;
      case 'group': await groupView(target, parts[1], me, params); break;
      case 'free': await freeSlotsView(target, parts[1]); break;
      case 'me': await meView(target, () => logout('Password changed. Please log in again with the new one.')); break;
      case 'cluster':
        // Rendered in place and refreshed while shown, failed or not: the
        // next refresh is due once this one is over.
        clearTimeout(route.cluster);
        try {
          await clusterView(token);
        } finally {
          if (token === rendering) {
            route.cluster = setTimeout(() => { if (window.location.hash.startsWith('#/cluster')) route(true); }, 3000);
          }
        }
        if (!refresh && token === rendering) settle(parts, null);
        return;
      default: target.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/week' }, 'Back to the week')));
    }
  } catch (err) {
    if (token !== rendering) return;
    // Keep what is shown, and let the next event retry, unless it is gone
    // (a group one was removed from): then say so.
    if (live && !(err instanceof ApiError && err.status === 404)) return;
    // Gone (deleted, or no longer mine to see) is not worth a retry.
    const gone = err instanceof ApiError && err.status === 404;
    pageGone = gone;
    // A group's pages (its own, finding a free slot in it) say why.
    const groupGone = gone && (parts[0] === 'group' || parts[0] === 'free');
    target.replaceChildren(h('h1', {}, groupGone ? 'Not a group of yours' : 'Could not load this page'),
      groupGone ? h('p', { role: 'alert' }, 'You are not a member of this group (any more), or it was deleted.')
        : errorBox(err.message === 'cluster' ? 'The cluster status is unavailable.' : describe(err)),
      gone ? h('p', {}, h('a', { class: 'button', href: groupGone ? '#/groups' : '#/week' }, groupGone ? 'Back to my groups' : 'Back to the week'))
        : h('button', { type: 'button', onclick: () => route() }, 'Try again'));
  }
  if (token !== rendering) return; // a later draw won (a navigation, an action's, a live one)
  if (live && typing() && !pageGone) {
    // Drawn once they are done: equal to the eye, the page drawn anew may
    // still hold what a button sends (a version). Not when it is gone: a
    // review found a group one was removed from kept on screen, details
    // and all, for as long as a field held text.
    staleWhileTyping = true;
    if (pageText(target) !== pageText(main)) markStale();
    return;
  }
  const focusForm = target.querySelector('[data-autofocus]');
  // Focus survives a redraw if it was on something the new page has too
  // (the same link or button), found by its place among its like.
  const wasInMain = main.contains(document.activeElement);
  const focused = wasInMain ? focusPath(document.activeElement) : null;
  // What was open stays open (an entry's details being read), found by its
  // key (data-key) or else its summary's text.
  const detailsKey = (d) => d.dataset.key || (d.querySelector('summary') || {}).textContent;
  const open = refresh ? new Set([...main.querySelectorAll('details[open]')].map(detailsKey)) : new Set();
  // Where the page is scrolled to now, not when the redraw began: the user
  // may have scrolled while it loaded (a refresh that began as a page
  // opened put it back to the top once they had scrolled down). Read before
  // keepOutputs takes the messages out, which makes the page shorter.
  const scroll = window.scrollY;
  // What the last actions said stays through a live refresh and an action's
  // redraw, but for what the action answers (keepOutputs); not through
  // "Show the changes" (no button acted), which clears what was typed.
  keyOutputs(target);
  if (live || acted) keepOutputs(main, target, (a, b) => pageText(a) === pageText(b), acted);
  main.replaceChildren(...target.childNodes);
  for (const d of main.querySelectorAll('details')) if (open.has(detailsKey(d))) d.open = true;
  freshPage();
  if (refresh) {
    window.scrollTo(0, scroll);
    nameTab();
    // Focus elsewhere (the header, the notifications) stays there.
    if (wasInMain && !(focused && refocus(focused))) focusHeading();
    return;
  }
  settle(parts, focusForm, focused);
}

// nameTab names the tab after the page's heading, isolated: a heading may
// be a name someone chose, alone.
function nameTab() {
  const heading = main.querySelector('h1');
  document.title = `${heading ? iso(heading.textContent) : ''} · Agenda`;
}

// settle finishes a navigation: focus, the document title, the current tab.
let settledPath = null;
function settle(parts, focusForm, focused) {
  // Another page opened shows from its start, where the focus goes: the
  // window's top, or the page's where the notifications are stacked above
  // it (on a phone). Another week of the same page stays where it was, and
  // so does the focus, on the link or button that asked for it (a review
  // saw the group agenda's Next jump to the top, then the focus).
  const path = parts.join('/');
  const samePage = path === settledPath;
  if (!samePage) {
    if (main.getBoundingClientRect().top < 0) window.scrollTo(0, 0);
    if (main.getBoundingClientRect().top > window.innerHeight) main.scrollIntoView();
  }
  settledPath = path;
  if (focusForm) focusForm.focus();
  else if (samePage && focused && (refocus(focused) || focusLike(focused))) { /* kept */ }
  else if (!main.contains(document.activeElement)) focusHeading();
  nameTab();
  for (const a of document.querySelectorAll('#nav a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${parts[0] || 'week'}`);
    if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  }
}

// focusLike focuses the first element of the page of the same kind, text
// and label as the one p names, whatever its target: "Next ›" leads to
// another week each time.
function focusLike(p) {
  const el = [...main.querySelectorAll(p.tag)].find((x) => x.textContent === p.text && x.getAttribute('aria-label') === p.label);
  if (!el) return false;
  el.focus({ preventScroll: true });
  return document.activeElement === el;
}

function focusHeading() {
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

// focusPath names a focused element so that its like can be found on the
// page drawn anew: a link, button or heading by its text and target, a
// field by its name; and its rank among those of the same name.
function focusPath(el) {
  if (!/^(A|BUTTON|H1|INPUT|SELECT|SUMMARY|TEXTAREA)$/.test(el.tagName)) return null;
  // A field by its name, or its label where it has none (the rank fields
  // and the week's date), so that a member added meanwhile does not move
  // the focus to another field.
  const key = (x) => /^(INPUT|SELECT|TEXTAREA)$/.test(x.tagName) ? `${x.tagName}|${x.name || x.getAttribute('aria-label') || ''}`
    : x.tagName === 'SUMMARY' && x.parentElement.dataset.key ? `SUMMARY|${x.parentElement.dataset.key}`
      : `${x.tagName}|${x.textContent}|${x.getAttribute('href') || ''}`;
  const k = key(el);
  const same = [...main.querySelectorAll(el.tagName)].filter((x) => key(x) === k);
  return { tag: el.tagName, key: k, index: same.indexOf(el), keyOf: key, text: el.textContent, label: el.getAttribute('aria-label') };
}

// refocus focuses the element focusPath named, if the page has it and it
// can take the focus (not inside a closed <details>, say).
function refocus(p) {
  const same = [...main.querySelectorAll(p.tag)].filter((x) => p.keyOf(x) === p.key);
  const el = same[p.index];
  if (!el) return false;
  if (el.tagName === 'H1') el.tabIndex = -1;
  el.focus({ preventScroll: true });
  return document.activeElement === el;
}

// ---------------------------------------------------------------------------
// Start.

let toastTimer = null;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, 5000);
}

function hideToast() {
  clearTimeout(toastTimer);
  $('toast').hidden = true;
}

$('notif-toggle').addEventListener('click', () => showPanel($('notifications').hidden));
$('logout').addEventListener('click', async () => {
  // End the token on the server too, so that a copy of it is worth nothing;
  // log out here whatever the server says. The live stream stops first: the
  // server closes it as the token ends, which must not read as a session
  // that ended by itself; and a second click while the first is on its
  // way does nothing (its request, with the ended token, would).
  const mine = shownToken;
  if (!mine || loggingOut === mine) return;
  loggingOut = mine;
  const b = $('logout');
  b.setAttribute('aria-disabled', 'true');
  live.stop();
  $('live-state').textContent = 'Logging out…';
  try { await api('POST', '/api/auth/logout'); } catch { /* logged out here all the same */ } finally {
    loggingOut = null;
    b.removeAttribute('aria-disabled');
  }
  // Unless this tab follows another session by now (a login in another
  // tab meanwhile): that one is not this click's to end.
  if (shownToken === mine) logout();
});
$('read-all').addEventListener('click', async () => {
  try { await api('POST', '/api/notifications/read-all'); await loadNotifications(); } catch (err) { toast(describe(err)); }
});
$('tz').textContent = `Times are shown in ${tz}.`;
// A toast goes when tapped: on a phone it may cover what one needs.
$('toast').addEventListener('click', hideToast);
window.addEventListener('hashchange', () => route());
// The skip link moves the focus to the page, not the address to #main (a
// page the router does not know).
document.querySelector('.skip').addEventListener('click', (ev) => { ev.preventDefault(); main.focus(); });
onRedraw((acted) => route('action', acted));
onTell(toast);
// Nothing reaches the console as an error: a failure the views did not
// expect is still told as a sentence.
window.addEventListener('unhandledrejection', (ev) => { ev.preventDefault(); toast(describe(ev.reason)); });

(async () => {
  try {
    const doc = await fetch('/api/openapi.json').then((r) => r.json());
    groupInvitesServed = Boolean(doc.paths && doc.paths['/api/group-invitations']);
  } catch { groupInvitesServed = true; } // the same binary serves both: assume it, rather than hide them
  const s = session();
  if (s) signedIn(s);
  route();
})();
