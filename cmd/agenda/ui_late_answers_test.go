package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// slowFetch makes the answers to the page's requests for which the
// JavaScript condition cond (of method m and address u) holds come 1.5 s
// late: the window in which the user moves on, or types, while an answer
// is on its way. window.__slowAsked counts those requests. It replaces
// the slowing set before (delays do not pile up).
func slowFetch(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const real = window.__realFetch = window.__realFetch || window.fetch;
		window.__slowAsked = 0;
		window.fetch = (url, init) => {
			const u = String(url), m = (init && init.method) || 'GET';
			if (!(` + cond + `)) return real(url, init);
			window.__slowAsked++;
			return real(url, init).then((res) => new Promise((r) => setTimeout(() => r(res), 1500)));
		};
	})()`)
}

// failFetch makes the first n of the page's requests for which the
// JavaScript condition cond (of method m and address u) holds fail: the
// first as a dropped connection does (fetch rejects), the others as a busy
// node answers (503). window.__failAsked counts those requests.
func failFetch(cond string, n int) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const real = window.__realFetch = window.__realFetch || window.fetch;
		window.__failAsked = 0;
		window.fetch = (url, init) => {
			const u = String(url), m = (init && init.method) || 'GET';
			if (!(%s)) return real(url, init);
			if (++window.__failAsked > %d) return real(url, init);
			if (window.__failAsked === 1) return Promise.reject(new TypeError('Failed to fetch'));
			return Promise.resolve(new Response(JSON.stringify({ error: { code: 'unavailable', message: 'no leader' } }),
				{ status: 503, headers: { 'Content-Type': 'application/json', 'Retry-After': '1' } }));
		};
	})()`, cond, n))
}

// submitWhileTheWeekLoads opens page, types text into its field, goes to
// the week (its answer held) and, while the week loads, submits the old
// page's form: an action taken on a page being left. Held, not slowed: a
// week that came first on a busy machine left no old form to submit.
func submitWhileTheWeekLoads(p *browserPage, page, form, field, text string) {
	p.t.Helper()
	p.goTo(page, field)
	p.do("fill in a form on "+page+", then go to the week",
		typeIn(field, text),
		holdAnswers(`/api/agenda\?`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/week'`))
	if err := p.poll(`window.__heldAsked >= 1`, 10*time.Second); err != nil {
		p.t.Fatalf("the week was never asked for: %v", err)
	}
	p.do("submit the old page's form, then let the week come",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+form+`').requestSubmit()`),
		chromedp.Evaluate[chromedp.Void](`window.__release()`))
}

// TestBrowserLateAnswers: an answer that comes back after the user moved
// on, or started typing, does not act on what they see now, and an action
// is sent once however often it is clicked. A review of the UI found each
// of these: two groups from a double submit; a late "created" taking the
// user back from the page they had gone to; what they typed wiped by a
// live refresh that had started loading before they typed; a page change
// drawn as a mere refresh because an event came while it loaded; an
// action that failed after the user moved on, told nowhere.
func TestBrowserLateAnswers(t *testing.T) {
	n, base, browser := browserTest(t)
	ana := registerUser(t, n, "ana")

	p := newBrowserPage(t, browser, "ana")
	p.login(base, "ana", "password-ana")

	groupsNamed := func(name string) []string {
		var groups []struct{ ID, Name string }
		ana.withT(t).do("GET", "/api/groups", nil).expect(t, http.StatusOK).JSON(t, &groups)
		var ids []string
		for _, g := range groups {
			if g.Name == name {
				ids = append(ids, g.ID)
			}
		}
		return ids
	}
	hash := func() string {
		got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("location.hash"))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// Two submits at once (a double click, a second Enter) make one group.
	p.do("create a group with two submits at once",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		typeIn(`#main input[name="name"]`, "Twice"),
		chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector('#main form'); f.requestSubmit(); f.requestSubmit(); })()`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="username"]`)))
	ids := groupsNamed("Twice")
	if len(ids) != 1 {
		t.Errorf("two submits at once made %d groups, want 1", len(ids))
	}
	if len(ids) == 0 {
		t.FailNow()
	}
	gid := ids[0]

	// A creation answered after the user went elsewhere is done, and
	// leaves them where they went.
	p.do("create a group, then go to the week before the answer",
		slowFetch(`m === 'POST' && u.endsWith('/api/groups')`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		typeIn(`#main input[name="name"]`, "Late"),
		clickOn(`#main form button[type="submit"]`),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/week'`),
		chromedp.WaitVisible(chromedp.CSS(`#main .week`)),
		chromedp.Sleep(2500*time.Millisecond))
	if h := hash(); h != "#/week" {
		t.Errorf("after going to the week while a group was being created, the page is %q", h)
	}
	if got := groupsNamed("Late"); len(got) != 1 {
		t.Errorf("the group created before going elsewhere: %d of it, want 1", len(got))
	}

	// What is typed while a live refresh loads stays: ana's own new
	// appointment is an event in her feed, which refreshes the group page.
	p.do("open the group, its loads slowed",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/group/`+gid+`'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="username"]`)),
		slowFetch(`m === 'GET' && u.endsWith('/api/groups/`+gid+`')`))
	next := time.Now().AddDate(0, 0, 3)
	createAppt(t, ana, "Stirs the feed", "", time.Date(next.Year(), next.Month(), next.Day(), 10, 0, 0, 0, time.Local))
	if err := p.poll(`window.__slowAsked >= 1`, 10*time.Second); err != nil {
		t.Fatalf("the event never refreshed the group page: %v", err)
	}
	p.typeInto(`#main input[name="username"]`, "zed")
	time.Sleep(2500 * time.Millisecond)
	kept, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(() => {
		const f = document.querySelector('#main input[name="username"]');
		return (f ? f.value : '(no field)') + '|' + (document.activeElement && document.activeElement.name);
	})()`))
	if err != nil || kept != "zed|username" {
		t.Errorf("after a live refresh that loaded while ana typed: field and focus %q (%v), want \"zed|username\"", kept, err)
	}

	// A page change during which an event comes is drawn as the page
	// change it is (the navigation marks the page it went to), and then
	// refreshed with what the event changed (the page change's answer
	// was asked for before it).
	week := "#/week?d=" + next.Format("2006-01-02")
	p.do("go to the week, its load slowed, while an event comes",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		slowFetch(`m === 'GET' && u.includes('/api/agenda?')`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '`+week+`'`))
	if err := p.poll(`window.__slowAsked >= 1`, 10*time.Second); err != nil {
		t.Fatalf("the week was never asked for: %v", err)
	}
	createAppt(t, ana, "Stirs it again", "", time.Date(next.Year(), next.Month(), next.Day(), 12, 0, 0, 0, time.Local))
	p.do("see the week", chromedp.WaitVisible(chromedp.CSS(`#main .week`)))
	current, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector('#nav a[aria-current]') || {}).textContent || ''`))
	if err != nil || current != "Week" {
		t.Errorf("the navigation marks %q (%v) as the current page, want Week", current, err)
	}
	if err := p.poll(`document.getElementById('main').textContent.includes('Stirs it again')`, 10*time.Second); err != nil {
		t.Errorf("the event that came while the week loaded never reached it: %v", err)
	}

	// An action taken on the old page while the next one loads is sent,
	// and leaves the user where they went.
	submitWhileTheWeekLoads(p, "#/groups", `#main form`, `#main input[name="name"]`, "Meanwhile")
	// Once the group exists, its answer is on its way back.
	deadline := time.Now().Add(10 * time.Second)
	for len(groupsNamed("Meanwhile")) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	p.do("let its answer land", chromedp.Sleep(1500*time.Millisecond))
	if h := hash(); h != "#/week" {
		t.Errorf("a group created from the page being left took the user to %q, want the week they went to", h)
	}
	if got := groupsNamed("Meanwhile"); len(got) != 1 {
		t.Errorf("the group created from the page being left: %d of it, want 1", len(got))
	}

	// An action that fails after the user moved on says so where they are
	// (its page, and the error on it, is gone). Its 404 is the one error
	// the console may show from here on.
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
	submitWhileTheWeekLoads(p, "#/group/"+gid, `#main form.inline`, `#main input[name="username"]`, "nobody-at-all")
	if err := p.poll(`!document.getElementById('toast').hidden && document.getElementById('toast').textContent.startsWith('What you did on the page you left did not work: ')`, 10*time.Second); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.getElementById('toast').textContent`))
		t.Errorf("a failure after moving on was not told (the toast says %q): %v", text, err)
	}
	p.do("see the week", chromedp.WaitVisible(chromedp.CSS(`#main .week`)))
	if h := hash(); h != "#/week" {
		t.Errorf("a failed action from the page being left took the user to %q, want the week they went to", h)
	}

	// The focus stays on a button whose action redraws the page (a
	// disabled button loses it to the page's body).
	registerUser(t, n, "bea")
	p.do("open the group", chromedp.Evaluate[chromedp.Void](`location.hash = '#/group/`+gid+`'`))
	if err := p.poll(`(document.querySelector('#main h1') || {}).textContent === 'Twice' && !!document.querySelector('#main input[name="username"]')`, 10*time.Second); err != nil {
		t.Fatalf("the group page never showed: %v", err)
	}
	// Typed as a phone capitalises it: usernames are lower case.
	p.do("add bea with the keyboard on the Add button",
		typeIn(`#main input[name="username"]`, "Bea"),
		focusOn(`#main form.inline button[type="submit"]`),
		chromedp.KeyEvent(kb.Enter))
	if err := p.poll(`[...document.querySelectorAll('#main td')].some((td) => td.textContent.includes('bea') && td.textContent.includes('invited'))`, 10*time.Second); err != nil {
		t.Fatalf("bea never shown as invited: %v", err)
	}
	focus, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.activeElement.tagName + (document.activeElement === document.body ? '' : ' ' + document.activeElement.textContent)`))
	if err != nil || focus != "BUTTON Add" {
		t.Errorf("after adding bea from the Add button the focus is on %q (%v), want that button", focus, err)
	}

	// A read that meets a dropped connection, then a busy node, is tried
	// again, and the page draws: a CI run lost a week's read to the host's
	// network changing under the browser, and showed "Could not load this
	// page". A write met by a dropped connection is not sent again (it may
	// have been done): it says so.
	p.do("go to the week, its read failing twice",
		failFetch(`m === 'GET' && u.includes('/api/agenda?')`, 2),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/week'`),
		chromedp.WaitVisible(chromedp.CSS(`#main .week`)))
	// Three at least: a live refresh may read the week again.
	if asked, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`window.__failAsked`)); err != nil || asked < 3 {
		t.Errorf("the week's read was asked %d times (%v), want two failures, then the answer", asked, err)
	}
	// A node that took its time to say 503 (it waited to catch up) is not
	// asked again: the page says it could not load, in seconds.
	p.do("go to the groups, then the week, its read a slow 503",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.__realFetch;
			window.__failAsked = 0;
			window.fetch = (url, init) => {
				if (!String(url).includes('/api/agenda?')) return real(url, init);
				// Counted until the page says it could not load: an event
				// that came meanwhile reads the week again then.
				if ((document.querySelector('#main h1') || {}).textContent !== 'Could not load this page') window.__failAsked++;
				return new Promise((r) => setTimeout(() => r(new Response('{}', { status: 503 })), 2100));
			};
		})()`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/week'`))
	if err := p.poll(`(document.querySelector('#main h1') || {}).textContent === 'Could not load this page' && window.__failAsked === 1`, 10*time.Second); err != nil {
		asked, _ := chromedp.Run(p.ctx, chromedp.Evaluate[int](`window.__failAsked`))
		t.Errorf("a read answered 503 after 2 s: asked %d times, want once, and the page told: %v", asked, err)
	}
	p.do("create a group, its request dropped",
		failFetch(`m === 'POST' && u.endsWith('/api/groups')`, 1),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		typeIn(`#main input[name="name"]`, "Dropped"),
		clickOn(`#main form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`#main .error`)))
	if text, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('#main .error').textContent + '|' + window.__failAsked`)); err != nil || text != "Cannot reach the server. Check your connection and try again.|1" {
		t.Errorf("a dropped write says %q (%v), want the connection told, and no second try", text, err)
	}
	p.do("fetch again as the browser does", chromedp.Evaluate[chromedp.Void](`window.fetch = window.__realFetch`))

	// A link followed while logged out shows its page once logged in.
	apptID, _ := createAppt(t, ana, "Linked", "", time.Date(next.Year(), next.Month(), next.Day(), 15, 0, 0, 0, time.Local))
	other := newBrowserPage(t, browser, "ana, from a link")
	other.do("open a link to an appointment, logged out, and log in",
		chromedp.Navigate(base+"/ui/#/appointment/"+apptID),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		typeIn(`#login-form input[name="username"]`, "ana"),
		typeIn(`#login-form input[name="password"]`, "password-ana"),
		clickOn(`#login-form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS("#nav")))
	if err := other.poll(`(document.querySelector('#main h1') || {}).textContent === 'Linked'`, 10*time.Second); err != nil {
		t.Errorf("after logging in from a link to an appointment, the page is not the appointment: %v", err)
	}
	if errs := p.consoleErrors("404"); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
