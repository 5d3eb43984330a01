// Views of my own time: the week, the agenda list, one appointment, the
// appointment form (create and move), and invitations.

import { api, describe, answered } from './api.js';
import { busy } from './view.js';
import {
  h, field, errorBox, fmtTime, fmtDay, fmtLongDay, fmtRange, fmtOnDay, fmtDateTime, startOfWeek, weekParam, startOfDay, addDays,
  localInput, dateInput, fromLocal, missingLocal, statusLabel, partLabel, fill, tz, weekNav, personName, namesOf, toCome, iso, withoutIsolates, typedName, pasteRoom,
} from './dom.js';

// conflictList shows the clashing slots of a schedule_conflict: mine in
// full, anyone else's only as busy time.
export function conflictList(err, people) {
  const list = (err.details && err.details.conflicts) || [];
  if (!list.length) return null;
  return h('ul', { class: 'conflicts', 'aria-label': 'Clashing slots' }, list.map((c) =>
    h('li', {}, h('strong', {}, c.busy ? `${(people && people[c.user_id]) || 'Someone'} is busy` : iso(c.title || 'Untitled')),
      ' ', fmtRange(c.start, c.end))));
}

// groupNames names the members of a group for a conflict list (user ID to
// name); none if the group cannot be read.
async function groupNames(groupID) {
  if (!groupID) return {};
  try {
    const g = await api('GET', `/api/groups/${groupID}`);
    return namesOf(g.members);
  } catch { return {}; }
}

// declineConfirmed asks before a decline that cancels the appointment for
// everyone: any decline in a flat group does, and it cannot be undone. Not
// once the user has gone elsewhere since (act): the question would pop up
// over another page.
async function declineConfirmed(a, act) {
  if (!a.group_id) return true;
  let flat = a.status === 'pending';
  try { flat = !(await api('GET', `/api/groups/${a.group_id}`)).hierarchical; } catch { /* not a member any more: as the status says */ }
  if (!flat) return true;
  if (act.movedOn) return false;
  return confirm(`Declining cancels “${iso(a.title)}” for everyone in the group. Decline?`);
}

// actionButtons makes the buttons of one thing's actions (an appointment's
// accept and decline, say): while one runs, none of them starts, and an
// error is shown in out.
function actionButtons(out, specs) {
  const buttons = specs.map(([label, , cls]) => h('button', { type: 'button', class: cls || '' }, label));
  specs.forEach(([, fn], i) => buttons[i].addEventListener('click', () => busy(buttons, async (act) => {
    try { await fn(act); } catch (err) {
      act.fail(out, err, errorBox(err.code === 'schedule_conflict' ? 'Accepting would clash with:' : describe(err),
        err.code === 'schedule_conflict' ? conflictList(err) : null));
    }
  })));
  return buttons;
}

// entryItem is one of my entries: in a day's column (day, its start) with
// the part of it on that day, in a list with its whole span.
function entryItem(e, day) {
  const cls = ['entry', `role-${e.my_status}`, e.pending ? 'pending' : '', e.status === 'cancelled' ? 'cancelled' : ''].join(' ');
  const oneDay = new Date(e.start).toDateString() === new Date(e.end).toDateString();
  const when = day ? fmtOnDay(e.start, e.end, day) : oneDay ? `${fmtTime(e.start)}–${fmtTime(e.end)}` : `${fmtTime(e.start)} – ${fmtDateTime(e.end)}`;
  return h('li', { class: cls },
    h('a', { href: `#/appointment/${e.appointment_id}` },
      h('span', { class: 'when' }, when), ' ',
      h('span', { class: 'what' }, iso(e.title || 'Untitled')),
      e.pending ? h('span', { class: 'tag' }, 'invitation') : null,
      e.my_status === 'auto' ? h('span', { class: 'tag' }, 'imposed') : null,
      e.status === 'pending' && !e.pending ? h('span', { class: 'tag' }, 'pending') : null));
}

export async function weekView(main, params) {
  const start = startOfWeek(weekParam(params));
  const end = addDays(start, 7);
  const entries = await api('GET', `/api/agenda?from=${start.toISOString()}&to=${end.toISOString()}`);
  const days = [];
  for (let i = 0; i < 7; i++) {
    const d = addDays(start, i);
    const next = addDays(d, 1);
    const todays = entries.filter((e) => new Date(e.start) < next && new Date(e.end) > d);
    const today = startOfDay(new Date()).getTime() === d.getTime();
    days.push(h('section', { class: 'day' + (today ? ' today' : ''), 'aria-label': fmtLongDay(d) },
      h('h2', {}, fmtDay(d)),
      todays.length ? h('ul', { class: 'entries' }, todays.map((e) => entryItem(e, d))) : h('p', { class: 'empty' }, 'Free')));
  }
  fill(main,
    h('div', { class: 'bar' },
      h('h1', {}, `Week of ${fmtLongDay(start)}`),
      h('div', { class: 'actions' },
        weekNav('#/week', start),
        h('a', { class: 'button primary', href: '#/new' }, 'New appointment'))),
    h('div', { class: 'week' }, days));
}

export async function agendaView(main) {
  const from = startOfDay(new Date());
  const to = addDays(from, 60);
  const entries = await api('GET', `/api/agenda?from=${from.toISOString()}&to=${to.toISOString()}`);
  const groups = new Map();
  for (const e of entries) {
    const k = startOfDay(new Date(e.start)).getTime();
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(e);
  }
  fill(main,
    h('div', { class: 'bar' }, h('h1', {}, 'Agenda'), h('a', { class: 'button primary', href: '#/new' }, 'New appointment')),
    h('p', { class: 'hint' }, 'The next 60 days.'),
    entries.length === 0 ? h('p', { class: 'empty' }, 'Nothing planned.') :
      [...groups.entries()].map(([k, list]) => h('section', { class: 'agenda-day' },
        h('h2', {}, fmtLongDay(new Date(k))), h('ul', { class: 'entries' }, list.map((e) => entryItem(e))))));
}

// appointmentForm creates (or, given an appointment, moves and edits) an
// appointment; with a group it creates a group appointment.
export async function appointmentForm(main, params, existing) {
  const groups = existing ? [] : await api('GET', '/api/groups');
  // The list holds the first 1,000 groups by name: a group asked for that
  // is not among them is read on its own, so that its appointment is not
  // made personal for want of an option (a review found it so). One that
  // cannot be read (left, deleted) is said under the form.
  const wanted = existing ? null : params.get('group');
  let wantedGone = false;
  if (wanted && !groups.some((g) => g.id === wanted)) {
    try {
      groups.push(await api('GET', `/api/groups/${encodeURIComponent(wanted)}`));
    } catch (err) {
      if (err.code !== 'not_found') throw err; // the page says why it could not load
      wantedGone = true;
    }
  }
  const now = new Date();
  now.setMinutes(0, 0, 0);
  const start0 = params.get('start') ? new Date(params.get('start')) : (existing ? new Date(existing.start) : addDays(now, 0));
  if (!existing && !params.get('start')) start0.setHours(start0.getHours() + 1);
  const end0 = params.get('end') ? new Date(params.get('end')) : (existing ? new Date(existing.end) : new Date(start0.getTime() + 3600e3));
  const title = h('input', { name: 'title', required: true, maxlength: 200 + pasteRoom, value: existing ? existing.title : '', autocomplete: 'off', 'data-autofocus': true });
  const start = h('input', { type: 'datetime-local', name: 'start', required: true, value: localInput(start0) });
  const end = h('input', { type: 'datetime-local', name: 'end', required: true, value: localInput(end0) });
  const place = h('input', { name: 'location', value: existing ? existing.location : '' });
  const description = h('textarea', { name: 'description', rows: 3 }, existing ? existing.description : '');
  // Short choices, their meaning in the hint: at 390 px the long ones
  // were cut ("Full — superiors in my groups may see th", a review).
  const privacy = h('select', { name: 'privacy' },
    h('option', { value: 'full' }, 'Full'),
    h('option', { value: 'freebusy' }, 'Free/busy'));
  if (existing) privacy.value = existing.privacy;
  const group = h('select', { name: 'group' }, h('option', { value: '' }, 'Personal'),
    groups.map((g) => h('option', { value: g.id }, `${iso(g.name)} (${g.hierarchical ? 'hierarchical' : 'flat'})`)));
  if (wanted && !wantedGone) group.value = wanted;
  const out = h('div', { 'aria-live': 'assertive' }, wantedGone ? errorBox('The group asked for is not one of yours (any more): this appointment would be personal.') : null);
  // A start already gone by is allowed (an appointment recorded late), but
  // said: a year or a month mistyped is the likelier cause.
  const past = h('p', { class: 'hint', id: 'start-past', 'aria-live': 'polite' });
  const sayPast = () => {
    const s = fromLocal(start.value);
    past.textContent = s && s < new Date() ? `This starts in the past (${fmtDateTime(s)}).` : '';
  };
  start.addEventListener('input', sayPast);
  start.addEventListener('change', sayPast);
  sayPast();
  const submit = h('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create');
  const form = h('form', { class: 'form', novalidate: true },
    field('Title', title),
    h('div', { class: 'row' }, field('Starts', start), field('Ends', end)), past,
    field('Location', place), field('Description', description),
    field('Privacy', privacy, 'Full: superiors in your groups may see the details. Free/busy: others see only that you are busy.'),
    existing ? null : field('For', group, forHint(group.value)),
    out, h('div', { class: 'actions' }, submit, h('a', { class: 'button', href: existing ? `#/appointment/${existing.id}` : '#/week' }, 'Cancel')));
  // What the chosen group will do with it: a flat group imposes nothing.
  function forHint(id) {
    const g = groups.find((x) => x.id === id);
    return !g ? 'Only in your agenda.' : g.hierarchical
      ? 'Imposed on the members ranked below you; an invitation to the others.'
      : 'A flat group: an invitation to every member; it happens once all accept.';
  }
  group.addEventListener('change', () => { const hint = document.getElementById(`${group.id}-hint`); if (hint) hint.textContent = forHint(group.value); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    // A time left as shown keeps its exact value (the field shows no
    // seconds; an edit of the title must not move the appointment).
    const s = existing && start.value === localInput(start0) ? start0 : fromLocal(start.value);
    const e = existing && end.value === localInput(end0) ? end0 : fromLocal(end.value);
    const named = typedName(title.value);
    if (!named) { fill(out, errorBox('Please give the appointment a title.')); title.focus(); return; }
    if (!s || !e) { fill(out, errorBox('Please give a start and an end.')); return; }
    for (const [input, what] of [[start, 'start'], [end, 'end']]) {
      if (missingLocal(input.value)) {
        fill(out, errorBox(`The ${what}, ${input.value.slice(11, 16)} on ${fmtLongDay(fromLocal(input.value.slice(0, 10) + 'T12:00'))}, does not exist in ${tz}: the clocks go forward then. Please choose another time.`));
        input.focus();
        return;
      }
    }
    if (e <= s) { fill(out, errorBox('The end must come after the start.')); end.focus(); return; }
    const body = { title: named, description: description.value, location: withoutIsolates(place.value),
      start: s.toISOString(), end: e.toISOString(), privacy: privacy.value };
    await busy(submit, async (act) => {
      try {
        let a;
        // No If-Match: only the owner edits, and every answer moves the
        // version, which an edit does not overwrite.
        if (existing) a = await api('PATCH', `/api/appointments/${existing.id}`, body);
        else if (group.value) a = await api('POST', `/api/groups/${group.value}/appointments`, body);
        else a = await api('POST', '/api/appointments', body);
        act.go(`#/appointment/${a.id || (existing && existing.id)}`);
      } catch (err) {
        const people = err.code === 'schedule_conflict' ? await groupNames(existing ? existing.group_id : group.value) : {};
        act.fail(out, err, errorBox(err.code === 'schedule_conflict' ? 'This clashes with:' : describe(err),
          err.code === 'schedule_conflict' ? conflictList(err, people) : null));
      }
    });
  });
  fill(main, h('h1', {}, existing ? `Edit “${iso(existing.title)}”` : 'New appointment'), form);
}

// binds says whether an imposed appointment still binds me: its organiser
// is still an active member of its hierarchical group ranked above me (the
// rule of agenda.Group.Imposes). Then there is nothing to decline. If the
// group cannot be read (I left it), the server decides.
async function binds(a, me) {
  // A cancelled appointment binds nobody: it is over for everyone.
  if (a.status === 'cancelled' || a.my_status !== 'auto' || !a.group_id) return false;
  try {
    const g = await api('GET', `/api/groups/${a.group_id}`);
    const rank = (id) => {
      const m = g.members.find((x) => x.user_id === id && (x.status || 'active') === 'active');
      return m ? m.rank : null;
    };
    const organiser = rank(a.owner_id), mine = rank(me);
    return g.hierarchical && organiser !== null && mine !== null && organiser > mine;
  } catch { return false; }
}

const participation = { owner: 'organiser', auto: 'imposed', pending: 'invited', accepted: 'accepted', declined: 'declined' };

export async function appointmentView(main, id, me) {
  const a = await api('GET', `/api/appointments/${id}`);
  const bound = await binds(a, me);
  const out = h('div', { 'aria-live': 'assertive' });
  const specs = [];
  if (a.owner_id === me && a.status !== 'cancelled') {
    specs.push([a.group_id ? 'Cancel for everyone' : 'Delete', async (act) => {
      if (!confirm(a.group_id ? 'Cancel this appointment for everyone?' : 'Delete this appointment?')) return;
      await api('DELETE', `/api/appointments/${a.id}`);
      // To its week, to see it gone (a review found the current week shown).
      act.go(`#/week?d=${dateInput(new Date(a.start))}`);
    }, 'danger']);
  }
  if (a.status !== 'cancelled' && (a.my_status === 'pending' || a.my_status === 'declined')) {
    specs.push(['Accept', async (act) => {
      await api('POST', `/api/appointments/${a.id}/accept`);
      await answered({ appointmentId: a.id });
      await act.redraw();
    }, 'primary']);
  }
  // An imposed one too, once it no longer binds me (binds).
  if (a.status !== 'cancelled' && ['pending', 'accepted', 'auto'].includes(a.my_status) && !bound) {
    specs.push(['Decline', async (act) => {
      if (!(await declineConfirmed(a, act))) return;
      await api('POST', `/api/appointments/${a.id}/decline`);
      await answered({ appointmentId: a.id });
      await act.redraw();
    }]);
  }
  const actions = [
    a.owner_id === me && a.status !== 'cancelled' ? h('a', { class: 'button', href: `#/edit/${a.id}` }, 'Edit or move') : null,
    ...actionButtons(out, specs)];
  fill(main,
    h('h1', {}, a.title || 'Untitled'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'When'), h('dd', {}, fmtRange(a.start, a.end)),
      a.location ? [h('dt', {}, 'Where'), h('dd', {}, a.location)] : null,
      a.description ? [h('dt', {}, 'About'), h('dd', { class: 'prose' }, a.description)] : null,
      h('dt', {}, 'Status'), h('dd', { id: 'appointment-status', dataset: { status: a.status } }, statusLabel(a)),
      h('dt', {}, 'Your part'), h('dd', {}, partLabel(a), bound ? h('small', { class: 'hint' }, ' (set by a superior in the group: it cannot be declined)') : null),
      h('dt', {}, 'Privacy'), h('dd', {}, a.privacy === 'full' ? 'Full' : 'Free/busy'),
      a.group_id ? [h('dt', {}, 'Group'), h('dd', {}, h('a', { href: `#/group/${a.group_id}?d=${dateInput(new Date(a.start))}` }, 'Open the group'))] : null),
    h('h2', {}, 'Participants'),
    h('ul', { class: 'people' }, a.participants.map((p) => h('li', {}, h('span', {}, personName(p)), ' ',
      h('span', { class: `tag st-${p.status}` }, participation[p.status] || p.status)))),
    out, h('div', { class: 'actions' }, actions));
}

export async function editView(main, id) {
  const a = await api('GET', `/api/appointments/${id}`);
  await appointmentForm(main, new URLSearchParams(), a);
}

export async function invitationsView(main, groupInvites) {
  const all = await api('GET', '/api/invitations');
  // Those to appointments that have ended are apart, after the rest: there
  // is nothing left to answer for, and the badge does not count them.
  const now = new Date();
  const list = all.filter((a) => toCome(a, now));
  const past = all.filter((a) => !toCome(a, now));
  const groupList = groupInvites ? await api('GET', '/api/group-invitations') : [];
  // Who invites me, and in which group: the organiser is among the
  // participants; the group among mine (if I can still read it).
  const groups = all.some((a) => a.group_id) ? await api('GET', '/api/groups').catch(() => []) : [];
  const from = (a) => {
    const o = a.participants.find((p) => p.user_id === a.owner_id);
    const g = groups.find((x) => x.id === a.group_id);
    return [h('p', {}, `From ${o ? personName(o) : 'the organiser'}${g ? ` in ${iso(g.name)}` : ''}.`),
      g && !g.hierarchical ? h('p', { class: 'hint' }, 'A flat group: declining cancels it for everyone.') : null];
  };
  // The answers to one invitation: either, once; then the page anew. What
  // refuses one is said on its card, beside the buttons (a review found
  // it at the top of the page, far from what was clicked).
  const answers = (...specs) => {
    const out = h('div', { 'aria-live': 'assertive' });
    return [h('div', { class: 'actions' }, actionButtons(out, specs.map(([label, fn, cls]) =>
      [label, async (act) => { if (await fn(act) !== false) await act.redraw(); }, cls]))), out];
  };
  fill(main,
    h('h1', {}, 'Invitations'),
    list.length === 0 && groupList.length === 0 ? h('p', { class: 'empty', id: 'no-invitations' }, 'No invitations waiting.') : null,
    list.length ? h('ul', { class: 'cards', id: 'invitation-list' }, list.map((a) => h('li', { class: 'card invitation', dataset: { id: a.id } },
      h('h2', {}, h('a', { href: `#/appointment/${a.id}` }, a.title || 'Untitled')),
      h('p', {}, fmtRange(a.start, a.end)), from(a),
      answers(
        [`Accept “${iso(a.title)}”`, async () => {
          await api('POST', `/api/appointments/${a.id}/accept`);
          await answered({ appointmentId: a.id });
        }, 'primary accept'],
        [`Decline “${iso(a.title)}”`, async (act) => {
          if (!(await declineConfirmed(a, act))) return false;
          await api('POST', `/api/appointments/${a.id}/decline`);
          await answered({ appointmentId: a.id });
        }, 'decline'])))) : null,
    groupList.length ? [h('h2', {}, 'Groups'), h('ul', { class: 'cards' }, groupList.map((g) => h('li', { class: 'card', dataset: { id: g.group_id } },
      h('h3', {}, g.name), h('p', {}, g.hierarchical ? `Hierarchical, rank ${g.rank}` : 'Flat group'),
      h('p', {}, `From ${g.inviter ? personName(g.inviter) : 'a member'}.`),
      answers(
        [`Join ${iso(g.name)}`, async () => {
          await api('POST', `/api/groups/${g.group_id}/accept`);
          await answered({ groupId: g.group_id });
        }, 'primary'],
        [`Decline ${iso(g.name)}`, async () => {
          await api('POST', `/api/groups/${g.group_id}/decline`);
          await answered({ groupId: g.group_id });
        }]))))] : null,
    past.length ? h('details', { class: 'past', dataset: { key: 'past-invitations' } },
      h('summary', {}, `Ended before you answered (${past.length})`),
      h('ul', { class: 'cards', id: 'past-invitations' }, past.map((a) => h('li', { class: 'card', dataset: { id: a.id } },
        h('h3', {}, h('a', { href: `#/appointment/${a.id}` }, a.title || 'Untitled')),
        h('p', {}, fmtRange(a.start, a.end)), from(a))))) : null);
}
