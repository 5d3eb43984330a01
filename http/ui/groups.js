// Groups: my groups, one group's members and ranks, its agenda (busy
// blocks for what I may not see), and the free-slot finder.

import { api, describe } from './api.js';
import { busy, latest } from './view.js';
import { h, field, errorBox, fill, fmtRange, fmtOnDay, fmtDay, weekNav, fmtLongDay, startOfWeek, weekParam, addDays, dateInput, localInput, fromLocal, personName, namesOf, typedUsername, typedName, iso, pasteRoom } from './dom.js';

// TOP_RANK is the creator's rank (agenda.MaxRank), above any that can be
// given (0 to TOP_RANK - 1): it passes only to the heir of a creator who
// leaves.
export const TOP_RANK = 1000;

export async function groupsView(main) {
  const groups = await api('GET', '/api/groups');
  const name = h('input', { name: 'name', required: true, maxlength: 100 + pasteRoom, autocomplete: 'off' });
  const description = h('textarea', { name: 'description', rows: 3 });
  const hierarchical = h('input', { type: 'checkbox', name: 'hierarchical' });
  const out = h('div', { 'aria-live': 'assertive' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create group');
  const form = h('form', { class: 'form' },
    h('h2', {}, 'New group'),
    field('Name', name), field('Description', description),
    h('div', { class: 'check' }, hierarchical, h('label', { for: (hierarchical.id = 'hier') }, 'Hierarchical (ranks; seniors impose appointments)')),
    out, h('div', { class: 'actions' }, create));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const named = typedName(name.value);
    if (!named) { fill(out, errorBox('Please name the group.')); name.focus(); return; }
    busy(create, async (act) => {
      try {
        const g = await api('POST', '/api/groups', { name: named, description: description.value, hierarchical: hierarchical.checked });
        act.go(`#/group/${g.id}`);
      } catch (err) { act.fail(out, err); }
    });
  });
  fill(main,
    h('h1', {}, 'Groups'),
    groups.length === 0 ? h('p', { class: 'empty' }, 'You are in no group yet.') :
      h('ul', { class: 'cards' }, groups.map((g) => h('li', { class: 'card' },
        h('h2', {}, h('a', { href: `#/group/${g.id}` }, g.name)),
        h('p', {}, `${g.hierarchical ? 'Hierarchical' : 'Flat'} · ${g.member_count} member${g.member_count === 1 ? '' : 's'}`,
          g.hierarchical ? ` · your rank ${g.my_rank}` : '')))),
    form);
}

export async function groupView(main, id, me, params) {
  let g;
  try {
    g = await api('GET', `/api/groups/${id}`);
  } catch (err) {
    // Invited, not (yet) a member: nothing of the group to see but the
    // invitation (its notifications link here too).
    const invited = err.status === 404 && (await api('GET', '/api/group-invitations').catch(() => [])).find((i) => i.group_id === id);
    if (!invited) throw err;
    fill(main, h('h1', {}, invited.name),
      h('p', {}, `${invited.inviter ? personName(invited.inviter) : 'A member'} invites you to this ${invited.hierarchical ? `hierarchical group, at rank ${invited.rank}` : 'flat group'}. `,
        'Until you accept, you see nothing of it.'),
      h('p', {}, h('a', { class: 'button primary', href: '#/invitations' }, 'Answer on the Invitations page')));
    return;
  }
  const people = namesOf(g.members);
  const start = startOfWeek(weekParam(params));
  const end = addDays(start, 7);
  // My invitations too: an appointment I am invited to is mine to open
  // (and answer), though it is in no row of mine until I accept.
  const [agenda, invitations] = await Promise.all([
    api('GET', `/api/groups/${id}/agenda?from=${start.toISOString()}&to=${end.toISOString()}`),
    api('GET', '/api/invitations').catch(() => [])]);
  const out = h('div', { 'aria-live': 'assertive' });
  const isCreator = g.creator_id === me;
  // The highest rank one may give, by setting or inviting: below one's own
  // and below the top (at rank 0 none: the server says so, in words).
  const giveMax = Math.max(0, Math.min(g.my_rank, TOP_RANK) - 1);

  const memberRows = g.members.map((m) => {
    const name = personName(m);
    const cells = [h('td', {}, name, m.user_id === g.creator_id ? h('span', { class: 'tag' }, 'creator') : null,
      m.status && m.status !== 'active' ? h('span', { class: 'tag' }, m.status) : null)];
    // A member's buttons: while one runs, neither starts.
    const row = [];
    if (g.hierarchical) {
      const canRank = m.user_id !== me && g.my_rank > m.rank;
      const rank = h('input', { type: 'number', min: 0, step: 1, max: canRank ? giveMax : undefined, value: m.rank, 'aria-label': `Rank of ${name}`, disabled: !canRank, class: 'rank' });
      const set = canRank ? h('button', { type: 'button', 'aria-label': `Set the rank of ${name}` }, 'Set') : null;
      if (set) {
        row.push(set);
        set.addEventListener('click', () => {
          // The button sends no form, so the field's range is checked here
          // (a review got the server's 'Field "rank" must be an integer').
          if (rank.value.trim() === '' || !rank.checkValidity()) { fill(out, errorBox(`Give a whole number from 0 to ${giveMax}.`)); rank.focus(); return; }
          // The membership's version: another manager's change to this
          // member meanwhile is reported, not overwritten.
          busy(row, async (act) => {
            try {
              await api('PATCH', `/api/groups/${id}/members/${m.user_id}`, { rank: Number(rank.value) }, m.version);
              await act.redraw();
              act.done(`${name} now holds rank ${Number(rank.value)}.`);
            } catch (err) { act.fail(out, err); }
          });
        });
      }
      cells.push(h('td', {}, rank, set));
    }
    const canRemove = m.user_id === me || (g.hierarchical ? g.my_rank > m.rank : isCreator);
    const remove = canRemove ? h('button', { type: 'button', class: m.user_id === me ? '' : 'danger',
      'aria-label': m.user_id === me ? `Leave ${iso(g.name)}` : m.status === 'invited' ? `Withdraw invitation of ${name}` : `Remove ${name}` },
    m.user_id === me ? 'Leave' : m.status === 'invited' ? 'Withdraw invitation' : 'Remove') : null;
    if (remove) {
      row.push(remove);
      remove.addEventListener('click', () => busy(row, async (act) => {
        const leaving = m.user_id === me;
        // Leaving ends one's part in the group's appointments still to
        // come, and cancels for everyone those one organised: said before,
        // not discovered after.
        const ends = (who, their) => ` ${who} stop${who === 'You' ? '' : 's'} taking part in its appointments still to come, and those ${their} organised are cancelled for everyone.`;
        const question = !leaving ? (m.status === 'invited' ? `Withdraw the invitation of ${name} to ${iso(g.name)}?` : `Remove ${name} from ${iso(g.name)}?${ends(name, 'they')}`)
          : g.member_count <= 1 ? `You are the last member: leaving deletes ${iso(g.name)}. Leave?` : `Leave ${iso(g.name)}?${ends('You', 'you')}`;
        if (!confirm(question)) return;
        try {
          await api('DELETE', `/api/groups/${id}/members/${m.user_id}`, undefined, m.version);
          if (leaving) act.go('#/groups'); else await act.redraw();
        } catch (err) { act.fail(out, err); }
      }));
    }
    cells.push(h('td', {}, remove));
    return h('tr', {}, cells);
  });

  // Adding people: search by username prefix.
  const who = h('input', { name: 'username', autocomplete: 'off', list: 'user-suggestions', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const suggestions = h('datalist', { id: 'user-suggestions' });
  const ask = latest(); // the suggestions for what is typed now, not for an earlier prefix
  who.addEventListener('input', async () => {
    const q = typedName(who.value);
    if (q.length < 1) return;
    const current = ask();
    try {
      const users = await api('GET', `/api/users?q=${encodeURIComponent(q)}`);
      if (current()) suggestions.replaceChildren(...users.map((u) => h('option', { value: u.username }, personName(u))));
    } catch { /* suggestions are a convenience */ }
  });
  const newRank = h('input', { type: 'number', min: 0, step: 1, max: giveMax, value: 0, name: 'rank' });
  const addButton = h('button', { type: 'submit' }, 'Add');
  const add = h('form', { class: 'form inline' },
    field('Add by username', who), suggestions, g.hierarchical ? field('Rank', newRank) : null,
    h('div', { class: 'actions' }, addButton));
  add.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const username = typedUsername(who.value);
    if (!username) return;
    const body = { username };
    if (g.hierarchical) {
      if (newRank.value.trim() === '') { fill(out, errorBox(`Give a whole number from 0 to ${giveMax}.`)); newRank.focus(); return; }
      body.rank = Number(newRank.value);
    }
    busy(addButton, async (act) => {
      try { await api('POST', `/api/groups/${id}/members`, body); await act.redraw(); } catch (err) { act.fail(out, err); }
    });
  });

  // The creator renames or deletes the group. No If-Match: only the creator
  // may, and the group's version moves with every membership change, which
  // a rename does not overwrite.
  let manage = null;
  if (isCreator) {
    const newName = h('input', { name: 'group-name', value: g.name, required: true, maxlength: 100 + pasteRoom });
    const newDescription = h('textarea', { name: 'group-description', rows: 2 }, g.description || '');
    const save = h('button', { type: 'submit' }, 'Save');
    const remove = h('button', { type: 'button', class: 'danger' }, 'Delete group');
    const rename = h('form', { class: 'form inline' }, field('Name', newName), field('Description', newDescription),
      h('div', { class: 'actions' }, save, remove));
    remove.addEventListener('click', () => busy([save, remove], async (act) => {
      if (!confirm(`Delete ${iso(g.name)} for everyone? Its confirmed appointments stay in the agendas.`)) return;
      try { await api('DELETE', `/api/groups/${id}`); act.go('#/groups'); } catch (err) { act.fail(out, err); }
    }));
    rename.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const named = typedName(newName.value);
      if (!named) { fill(out, errorBox('Please name the group.')); newName.focus(); return; }
      busy([save, remove], async (act) => {
        try {
          await api('PATCH', `/api/groups/${id}`, { name: named, description: newDescription.value });
          await act.redraw();
        } catch (err) { act.fail(out, err); }
      });
    });
    manage = h('details', { class: 'manage' }, h('summary', {}, 'Rename or delete the group'), rename);
  }

  // The group agenda: one row per member, entries by day, each with the
  // part of it on that day. My own entries, and those I take part in, link
  // to their page; another member's that I may see in full show their
  // details in place (an appointment's page is for those who take part).
  const days = [...Array(7).keys()].map((i) => addDays(start, i));
  const mine = new Set([...(agenda.find((m) => m.user_id === me) || { entries: [] }).entries
    .filter((e) => !e.busy).map((e) => e.appointment_id), ...invitations.map((a) => a.id)]);
  const block = (e, d) => {
    const when = fmtOnDay(e.start, e.end, d);
    if (e.busy) return h('div', { class: 'block busy' }, `${when} busy`);
    const label = `${when} ${iso(e.title || 'Untitled')}`;
    const tag = e.status === 'pending' ? h('span', { class: 'tag' }, 'pending') : e.status === 'cancelled' ? h('span', { class: 'tag' }, 'cancelled') : null;
    if (mine.has(e.appointment_id)) return h('div', { class: 'block' }, h('a', { href: `#/appointment/${e.appointment_id}` }, label), tag);
    const more = [e.location ? h('p', {}, `Where: ${iso(e.location)}`) : null, e.description ? h('p', { class: 'prose' }, e.description) : null].filter(Boolean);
    return h('div', { class: 'block' }, more.length ? h('details', { dataset: { key: `${e.appointment_id}|${dateInput(d)}` } }, h('summary', {}, label, tag), more) : [label, tag]);
  };
  const agendaTable = h('table', { class: 'group-agenda' },
    h('caption', {}, `Week of ${fmtLongDay(start)}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Member'), days.map((d) => h('th', { scope: 'col' }, fmtDay(d))))),
    h('tbody', {}, agenda.map((m) => h('tr', {}, h('th', { scope: 'row' }, personName(m)),
      days.map((d) => {
        const next = addDays(d, 1);
        const es = m.entries.filter((e) => new Date(e.start) < next && new Date(e.end) > d);
        return h('td', {}, es.map((e) => block(e, d)));
      })))));

  fill(main,
    h('div', { class: 'bar' }, h('h1', {}, g.name),
      h('div', { class: 'actions' },
        h('a', { class: 'button primary', href: `#/new?group=${id}` }, 'New group appointment'),
        h('a', { class: 'button', href: `#/free/${id}` }, 'Find a free slot'))),
    g.description ? h('p', { class: 'prose' }, g.description) : null,
    // What a rank means, said where it shows (a review read "my rank is
    // 1000" as meaning nothing).
    h('p', { class: 'hint' }, !g.hierarchical ? 'Flat group: every appointment needs everyone to accept.'
      : g.my_rank >= TOP_RANK ? `Hierarchical group. You hold its top rank (${g.my_rank}): what you set goes straight into the other members' agendas.`
        : `Hierarchical group. Your rank is ${g.my_rank}: what you set goes straight into the agendas of the members ranked below you, and those level with you or above are invited.`),
    // The members, and what the page's actions said of them: kept through
    // a live refresh while this part reads the same (view.js keyOutputs),
    // whatever happens in the group agenda below.
    h('div', { dataset: { key: 'members' } },
      out,
      h('h2', {}, 'Members'),
      h('table', { class: 'members' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Member'),
        g.hierarchical ? h('th', { scope: 'col' }, 'Rank') : null, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, memberRows)),
      add,
      manage),
    h('div', { class: 'bar' }, h('h2', {}, 'Group agenda'),
      h('div', { class: 'actions' },
        weekNav(`#/group/${id}`, start))),
    h('div', { class: 'scroll' }, agendaTable),
    h('p', { class: 'hint' }, 'Busy: time you may not see the details of.'));
  return people;
}

export async function freeSlotsView(main, id) {
  const g = await api('GET', `/api/groups/${id}`);
  const now = new Date();
  now.setMinutes(0, 0, 0);
  // From the next full hour: a slot already under way is no use.
  now.setHours(now.getHours() + 1);
  const from = h('input', { type: 'datetime-local', value: localInput(now), required: true });
  const to = h('input', { type: 'datetime-local', value: localInput(addDays(now, 7)), required: true });
  // Up to the longest the server looks for (31 days), as people say them.
  const lengths = [['15m', 15, '15 minutes'], ['30m', 30, '30 minutes'], ['45m', 45, '45 minutes'], ['1h', 60, '1 hour'],
    ['1h30m', 90, '1½ hours'], ['2h', 120, '2 hours'], ['3h', 180, '3 hours'], ['4h', 240, '4 hours'], ['6h', 360, '6 hours'],
    ['8h', 480, '8 hours'], ['24h', 1440, '1 day'], ['48h', 2880, '2 days'], ['72h', 4320, '3 days'], ['168h', 10080, '1 week']];
  const duration = h('select', {}, lengths.map(([v, , label]) => h('option', { value: v, selected: v === '1h' }, label)));
  const results = h('div', { 'aria-live': 'polite' });
  const find = h('button', { type: 'submit', class: 'primary' }, 'Find free slots');
  const form = h('form', { class: 'form' },
    h('div', { class: 'row' }, field('From', from), field('To', to)), field('At least', duration),
    h('div', { class: 'actions' }, find));
  // One search at a time: an earlier one's answer never shows last.
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(find, search);
  });
  // The slots shown are those of the window searched: once the form says
  // another (or nothing), they say so rather than pass for its answer (a
  // review emptied the form and still saw the last results).
  let searched = null;
  const asked = () => `${from.value}|${to.value}|${duration.value}`;
  function markOutdated() {
    const old = searched !== null && asked() !== searched;
    results.classList.toggle('outdated', old);
    const note = results.querySelector('.outdated-note');
    if (old && !note) results.prepend(h('p', { class: 'hint outdated-note' }, 'These are for the window you searched before: press “Find free slots” to search this one.'));
    if (!old && note) note.remove();
  }
  form.addEventListener('input', markOutdated);
  form.addEventListener('change', markOutdated);
  // What is asked is read once, before the answer: the form may change
  // while it comes (and results still shown stay marked outdated meanwhile).
  async function search() {
    const f = fromLocal(from.value), t = fromLocal(to.value);
    const wanted = asked(), length = duration.value;
    const mins = lengths.find(([v]) => v === length)[1];
    const failed = (message) => { searched = null; fill(results, errorBox(message)); markOutdated(); };
    if (!f || !t || t <= f) { failed('Please give a window whose end comes after its start.'); return; }
    try {
      const slots = await api('GET', `/api/groups/${id}/free-slots?from=${f.toISOString()}&to=${t.toISOString()}&duration=${length}`);
      searched = wanted;
      fill(results, slots.length === 0 ? h('p', { class: 'empty' }, 'No common free time that long in this window.') :
        h('ul', { class: 'slots' }, slots.map((s) => {
          const end = new Date(Math.min(new Date(s.end), new Date(s.start).getTime() + mins * 60e3));
          return h('li', {}, fmtRange(s.start, s.end), ' ',
            h('a', { class: 'button', href: `#/new?group=${id}&start=${encodeURIComponent(s.start)}&end=${encodeURIComponent(end.toISOString())}` }, 'Book'));
        })));
      // The form may have changed while the answer came.
      markOutdated();
    } catch (err) { failed(describe(err)); }
  }
  fill(main, h('h1', {}, `Free slots in ${iso(g.name)}`),
    h('p', { class: 'hint' }, 'Times when every member is free.'), form, results);
}
