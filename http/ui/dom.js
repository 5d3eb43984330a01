// Small DOM and time helpers. Text is always set as text, never as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let uid = 0;

// field is a labelled input (or select/textarea when given as input).
export function field(label, input, hint) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  const parts = [h('label', { for: id }, label), input];
  if (hint) {
    const hid = id + '-hint';
    input.setAttribute('aria-describedby', hid);
    parts.push(h('small', { id: hid, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

// errorBox shows a sentence (and optional detail nodes) as an alert.
export function errorBox(message, ...extra) {
  return h('div', { class: 'error', role: 'alert' }, h('p', {}, message), extra);
}

// personName is what the UI calls a person the server names (a member, a
// participant, a notification's actor): the display name they chose, with
// their username after it where the two differ. Display names are anyone's
// to choose, "ana" included: only the username, which is unique, tells
// people apart (a review found a chosen name alone let anyone pass for
// anyone).
export function personName(u) {
  const username = u.username || u.user_id || u.id;
  return u.display_name && u.display_name !== username ? `${iso(u.display_name)} (${username})` : username;
}

// iso isolates a name someone chose (a display name, a group's name, a
// title or a place) inside a sentence of the UI's, between U+2068 and
// U+2069 (first-strong isolate, pop directional isolate). Unisolated, a
// right-to-left name draws the digits and brackets beside it into its own
// direction: "מרים (123) now holds rank 5." reads "(123) םירמ now
// holds…", the username before the name. The server refuses explicit
// bidi controls in names; the direction of the letters themselves stays
// everyone's to use.
export function iso(s) { return `\u2068${s}\u2069`; }

// withoutIsolates is a name as typed into a form, without U+2066–U+2069:
// a name copied from the page brings iso's isolates along, invisible, and
// the server refuses a name that holds them. (Descriptions keep what was
// typed: the server takes isolates there, and an edit must not rewrite
// them.) Name fields allow two characters more than the server does
// (pasteRoom), so that a paste of a name at its longest is not cut.
export function withoutIsolates(s) { return s.replace(/[\u2066-\u2069]/g, ''); }
export const pasteRoom = 2;

// namesOf maps the user IDs of members (or participants) to their names.
export function namesOf(people) { return Object.fromEntries(people.map((p) => [p.user_id, personName(p)])); }

// typedName is a name as typed into a form's field: without isolates and
// the spaces around it.
export function typedName(s) { return withoutIsolates(s).trim(); }

// typedUsername is the username someone typed: usernames are lower case,
// and a phone capitalises the first letter ("Cleo" is cleo); pasted from
// the page, it may bring iso's isolates along. Only A-Z fold, as the
// server folds them (agenda.FoldUsername): toLowerCase would turn a
// look-alike such as the Kelvin sign into a letter of someone's name.
export function typedUsername(s) { return typedName(s).replace(/[A-Z]/g, (c) => c.toLowerCase()); }

// toCome says whether an appointment (or an invitation to it) has not
// ended: one that has waits for no answer.
export function toCome(a, now = new Date()) { return new Date(a.end) > now; }

// ownName is what the header calls the one signed in: their chosen name
// alone, as nobody can pass for oneself there.
export function ownName(u) { return u.display_name || u.username; }

export const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;

// The hour as the locale writes it: "09:00" where clocks run to 24, "9:00 AM"
// where they do not (a review read "09:00 AM").
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const longDayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const dateTimeOpts = { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' };
const dateTimeFmt = new Intl.DateTimeFormat(undefined, dateTimeOpts);
const dateTimeYearFmt = new Intl.DateTimeFormat(undefined, { ...dateTimeOpts, year: 'numeric' });

export const fmtTime = (d) => timeFmt.format(new Date(d));
export const fmtDay = (d) => dayFmt.format(new Date(d));
export const fmtLongDay = (d) => longDayFmt.format(new Date(d));
// fmtDateTime says the year only of a date in another year than this one
// ("Tue, 5 Jan" in December is ambiguous).
export function fmtDateTime(d) {
  const t = new Date(d);
  return (t.getFullYear() === new Date().getFullYear() ? dateTimeFmt : dateTimeYearFmt).format(t);
}
export function fmtRange(start, end) {
  const s = new Date(start), e = new Date(end);
  const sameDay = s.toDateString() === e.toDateString();
  return `${fmtDateTime(s)} – ${sameDay ? fmtTime(e) : fmtDateTime(e)}`;
}

// fmtOnDay is the part of [start, end) that falls on the local day that
// begins at day, as a day's column shows it: an appointment from
// Wednesday 09:00 to Friday 17:00 is "from 09:00", "all day" and
// "until 17:00", not 09:00–17:00 three times.
export function fmtOnDay(start, end, day) {
  const s = new Date(start), e = new Date(end), next = addDays(day, 1);
  if (s <= day && e >= next) return 'all day'; // to the next midnight included
  if (s >= day && e <= next) return `${fmtTime(s)}–${fmtTime(e)}`;
  if (s >= day) return `from ${fmtTime(s)}`;
  return `until ${fmtTime(e)}`;
}

// startOfDay and startOfWeek work in the browser's time zone; weeks start
// on Monday.
export function startOfDay(d) { const x = new Date(d); x.setHours(0, 0, 0, 0); return x; }
export function addDays(d, n) { const x = new Date(d); x.setDate(x.getDate() + n); return x; }
export function startOfWeek(d) { const x = startOfDay(d); return addDays(x, -((x.getDay() + 6) % 7)); }

// weekParam reads ?d=YYYY-MM-DD as a local date; anything else (missing,
// malformed, impossible) is today.
export function weekParam(params) {
  const raw = params.get('d');
  const m = raw && /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return new Date();
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.getMonth() === Number(m[2]) - 1 && d.getDate() === Number(m[3]) ? d : new Date();
}

// localInput formats a Date for <input type="datetime-local">.
export function localInput(d) {
  const x = new Date(d);
  const p = (n) => String(n).padStart(2, '0');
  return `${String(x.getFullYear()).padStart(4, '0')}-${p(x.getMonth() + 1)}-${p(x.getDate())}T${p(x.getHours())}:${p(x.getMinutes())}`;
}
export function dateInput(d) { return localInput(d).slice(0, 10); }

// fromLocal reads a datetime-local value as local time; null if empty.
export function fromLocal(v) {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d) ? null : d;
}

// missingLocal says whether a datetime-local value names a time that does
// not exist in the browser's time zone (the hour skipped when the clocks go
// forward): the browser would silently read it as a later time.
export function missingLocal(v) {
  const d = fromLocal(v);
  return Boolean(d) && localInput(d) !== v.slice(0, 16);
}

// statusLabel says, in words, where an appointment stands for everyone.
export function statusLabel(a) {
  return { confirmed: 'Confirmed', pending: 'Waiting for every member to accept', cancelled: 'Cancelled' }[a.status] || a.status;
}

// partLabel says, in words, the part the one reading has in an appointment
// (its my_status; a review read "cancelled · yours" as jargon).
export function partLabel(a) {
  return {
    owner: a.group_id ? 'You organise it' : 'Yours', auto: 'Imposed on you', pending: 'Invited, not answered yet',
    accepted: 'Accepted', declined: 'Declined',
  }[a.my_status] || a.my_status;
}

// fill replaces el's children, skipping the empty ones (null, false) that
// conditional parts of a view leave.
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// weekNav moves between weeks: the one before, this one, the one after, or
// the week of any date given. page is the address without its ?d=. The date
// is taken when asked for (Enter, the button), not on every change: typed
// from the keyboard, a date field changes at its first digit.
export function weekNav(page, start) {
  // Transient: what is left in it unshown does not hold the page's live
  // refresh back (app.js, typing).
  const pick = h('input', { type: 'date', value: dateInput(start), min: '1900-01-01', 'aria-label': 'Week of the date', class: 'week-pick', required: true,
    dataset: { transient: '1' } });
  const form = h('form', { class: 'week-form' }, pick, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (/^\d{4}-\d{2}-\d{2}$/.test(pick.value) && pick.value >= '1900') window.location.hash = `${page}?d=${pick.value}`;
  });
  return [
    h('a', { class: 'button', href: `${page}?d=${dateInput(addDays(start, -7))}`, 'aria-label': 'Previous week' }, '‹ Previous'),
    h('a', { class: 'button', href: page }, 'Today'),
    h('a', { class: 'button', href: `${page}?d=${dateInput(addDays(start, 7))}`, 'aria-label': 'Next week' }, 'Next ›'),
    form,
  ];
}
