package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// slowFetch makes the answers to the page's requests for which the
// JavaScript condition cond (of method m and address u) holds come 1.5 s
// late: the window in which the user moves on, or types, while an answer
// is on its way.
func slowFetch(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const real = window.fetch;
		window.fetch = (url, init) => {
			const u = String(url), m = (init && init.method) || 'GET';
			return (` + cond + `) ? real(url, init).then((res) => new Promise((r) => setTimeout(() => r(res), 1500))) : real(url, init);
		};
	})()`)
}

// TestBrowserLateAnswers: an answer that comes back after the user moved
// on, or started typing, does not act on what they see now, and an action
// is sent once however often it is clicked. A review of the UI found each
// of these: two groups from a double submit; a late "created" taking the
// user back from the page they had gone to; what they typed wiped by a
// live refresh that had started loading before they typed; a page change
// drawn as a mere refresh because an event came while it loaded.
func TestBrowserLateAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	chromium := findChromium(t)
	n := mustStartNode(t)
	base := "http://" + n.HTTPAddr()
	ana := registerUser(t, n, "ana")

	browser := startBrowser(t, chromium)
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
		chromedp.SendKeys(chromedp.CSS(`#main input[name="name"]`), "Twice"),
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
		chromedp.SendKeys(chromedp.CSS(`#main input[name="name"]`), "Late"),
		chromedp.Click(chromedp.CSS(`#main form button[type="submit"]`)),
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
	time.Sleep(600 * time.Millisecond) // the refresh is loading (it starts 150 ms after the event)
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
	// change it is: the navigation marks the page it went to.
	p.do("go to the week, its load slowed, while an event comes",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/groups'`),
		chromedp.WaitVisible(chromedp.CSS(`#main input[name="name"]`)),
		slowFetch(`m === 'GET' && u.includes('/api/agenda?')`),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/week'`))
	createAppt(t, ana, "Stirs it again", "", time.Date(next.Year(), next.Month(), next.Day(), 12, 0, 0, 0, time.Local))
	p.do("see the week", chromedp.WaitVisible(chromedp.CSS(`#main .week`)), chromedp.Sleep(2*time.Second))
	current, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector('#nav a[aria-current]') || {}).textContent || ''`))
	if err != nil || current != "Week" {
		t.Errorf("the navigation marks %q (%v) as the current page, want Week", current, err)
	}
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
