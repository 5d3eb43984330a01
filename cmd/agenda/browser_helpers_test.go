package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium or Chrome binary, or skips
// the test saying how to get one.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium found on PATH: install it (apt-get install chromium; .ci/run does) to run the browser test")
	return ""
}

// browserTest starts what a browser test needs: a node, its address and a
// browser, all stopped when the test ends. It skips the test in -short
// mode, or where no chromium is installed.
func browserTest(t *testing.T) (n *Node, base string, browser context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	chromium := findChromium(t)
	n = mustStartNode(t)
	return n, "http://" + n.HTTPAddr(), startBrowser(t, chromium)
}

// startBrowser starts chromium for the test; it stops when the test ends.
func startBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium (%s): %v", chromium, err)
	}
	return browser
}

// browserPage is one person's browser: its own browser context (storage,
// session) in a shared browser, with every console error it logged.
type browserPage struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu     sync.Mutex
	errors []chromedp.ConsoleMessage
}

func newBrowserPage(t *testing.T, browser context.Context, name string) *browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return openTab(t, ctx, name)
}

// newTab opens another tab of the same person's browser: it shares their
// storage, so their session.
func (p *browserPage) newTab(name string) *browserPage {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	p.t.Cleanup(cancel)
	return openTab(p.t, ctx, name)
}

// openTab makes the tab of a fresh context. The context that creates a tab
// owns it: it must not be one with a timeout, or the tab closes with it.
func openTab(t *testing.T, ctx context.Context, name string) *browserPage {
	p := &browserPage{t: t, name: name, ctx: ctx}
	// Console subscribes (and creates the tab) before anything is loaded.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.mu.Lock()
				p.errors = append(p.errors, m)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// do runs steps, failing the test (with the step's name) if they fail.
func (p *browserPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		// Say what the page showed, to make the failure readable.
		sctx, scancel := context.WithTimeout(p.ctx, 10*time.Second)
		text, _ := chromedp.Run(sctx, chromedp.Evaluate[string]("location.href + '\\n' + document.body.innerText"))
		scancel()
		p.t.Fatalf("%s: %s: %v\npage: %s\nconsole errors: %v", p.name, what, err, text, p.consoleErrors())
	}
}

func (p *browserPage) screenshot(dir, file string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), img, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// consoleErrors returns the console errors logged so far, but for the
// browser's own report of an answer with one of the statuses allowed (the
// page asked for a conflict on purpose).
func (p *browserPage) consoleErrors(allowed ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
next:
	for _, m := range p.errors {
		if strings.Contains(m.Text, networkChanged) {
			continue // the machine's doing (networkChanged)
		}
		for _, a := range allowed {
			if m.Source == "network" && strings.Contains(m.Text, "status of "+a) {
				continue next
			}
		}
		out = append(out, m.String())
	}
	return out
}

// typeInto types text into the field sel names, as a step of its own
// (typeIn).
func (p *browserPage) typeInto(sel, text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, typeIn(sel, text)); err != nil {
		p.t.Fatalf("%s: type into %s: %v", p.name, sel, err)
	}
}

// typeIn types text into the field sel names once it shows. A live event
// may redraw the page between finding the field and typing (the node found
// is then gone: "Could not find node with given id", as CI saw on the
// groups page): it finds the field again, a few times. Once the field holds
// what was typed, live refreshes leave the page alone.
func typeIn(sel, text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		for range 5 {
			_, err = chromedp.Steps(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))(ctx, t)
			if err == nil || !strings.Contains(err.Error(), "Could not find node") {
				break
			}
		}
		return chromedp.Void{}, err
	}
}

// focusOn focuses the element sel names once it shows, finding it anew on
// each try until it holds the focus. chromedp.Focus finds the node first
// and focuses it in a second call: a live refresh landing between the two
// replaces the node ("Could not find node with given id", as CI saw after
// an API write that the page was told of live).
func focusOn(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.getClientRects().length) return false; e.focus(); return document.activeElement === e; })()`, sel))
}

// clickOn clicks the element sel names once it shows, found anew in the
// one evaluation that clicks it, for the reason focusOn does: chromedp.Click
// finds the node, then its box, then presses the mouse, and a live refresh
// between them replaces the node (a click once landed on a node so
// replaced).
func clickOn(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.getClientRects().length) return false; e.click(); return true; })()`, sel))
}

// slowAnswers makes the page's requests whose URL matches the JavaScript
// regular expression re answer d late, so that what the page shows while
// an answer is on its way can be seen.
func slowAnswers(re string, d time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const real = window.fetch, re = new RegExp(%q);
		window.fetch = (url, init) => re.test(String(url))
			? real(url, init).then((res) => new Promise((r) => setTimeout(() => r(res), %d))) : real(url, init);
	})()`, re, d.Milliseconds()))
}

// goTo opens the page hash, which must not be the one shown, and waits
// until it is drawn with sel on it. The page being left stays shown, and
// clickable, while the next one loads, and may have sel too: runs found
// the week's Show button clicked for the free-slot finder's, and a name
// typed into the group page being left.
func (p *browserPage) goTo(hash, sel string) {
	p.t.Helper()
	h, _ := json.Marshal(hash)
	q, _ := json.Marshal(sel)
	p.do("open "+hash,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			for (const c of document.getElementById('main').children) c.dataset.left = '1';
			location.hash = %s;
		})()`, h)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`location.hash === %s && !document.querySelector('#main > [data-left]') && !!document.querySelector(%s)`, h, q)))
}

// holdAnswers makes the page's requests whose URL matches the JavaScript
// regular expression re answer only once window.__release() is called:
// what the page does meanwhile comes first, however slow the machine.
// window.__heldAsked counts those requests.
func holdAnswers(re string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const real = window.fetch, re = new RegExp(%q);
		const held = new Promise((r) => { window.__release = r; });
		window.__heldAsked = 0;
		window.fetch = (url, init) => {
			if (!re.test(String(url))) return real(url, init);
			window.__heldAsked++;
			return real(url, init).then((res) => held.then(() => res));
		};
	})()`, re))
}

// poll waits until the JavaScript expression js is true, for at most within.
// An expression that throws is false for that frame: chromedp's poll stops
// at a throw and only the deadline ends the wait (a CI run's poll of a
// table met a page drawn without it and waited out its ten seconds). The
// error then says what the page showed.
func (p *browserPage) poll(js string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(p.ctx, within)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("(() => { try { return !!(\n"+js+"\n); } catch { return false; } })()"))
	if err != nil {
		sctx, scancel := context.WithTimeout(p.ctx, 5*time.Second)
		text, _ := chromedp.Run(sctx, chromedp.Evaluate[string]("location.hash + ': ' + document.getElementById('main').innerText.slice(0, 300)"))
		scancel()
		return fmt.Errorf("%w (the page: %q)", err, text)
	}
	return nil
}

// noteSays checks that a listed notification of type typ says want: a
// notification names who acted (a review found "Declined: …" with no
// name). Any of the type's notifications may be the one, as a page that
// lists an earlier one shows the new one when its frame comes.
func (p *browserPage) noteSays(typ, want string) {
	p.t.Helper()
	sel := fmt.Sprintf(`.note[data-type=%q]`, typ)
	p.do("see the "+typ+" notification", chromedp.WaitVisible(chromedp.CSS(sel)))
	texts := fmt.Sprintf(`[...document.querySelectorAll(%q)].map((n) => n.firstElementChild.textContent)`, sel)
	wantJS, _ := json.Marshal(want)
	if p.poll(fmt.Sprintf(`%s.includes(%s)`, texts, wantJS), 10*time.Second) == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](texts))
	p.t.Errorf("%s's %s notifications say %q (%v), want one to say %q", p.name, typ, got, err, want)
}

// iso is s as the UI's sentences hold a name someone chose: isolated
// (U+2068…U+2069; dom.js iso), so that its direction does not reorder the
// words around it.
func iso(s string) string { return "\u2068" + s + "\u2069" }

// login logs in through the UI's form.
func (p *browserPage) login(base, username, password string) {
	p.t.Helper()
	p.open(base)
	p.do("log in",
		typeIn(`#login-form input[name="username"]`, username),
		typeIn(`#login-form input[name="password"]`, password),
		clickOn(`#login-form button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS("#nav")),
		chromedp.WaitVisible(chromedp.CSS(`#live-state[data-state="live"]`)),
		// A reload would lose this mark: the test checks it at the end.
		chromedp.Evaluate[chromedp.Void]("window.__noReload = true"),
	)
}

// networkChanged is how Chromium reports a request it dropped because the
// host's network changed under it: the deploy tests, which run beside these,
// create and remove Docker networks (a CI run lost the page's own script
// so). It is the machine's doing, not the page's error.
const networkChanged = "net::ERR_NETWORK_CHANGED"

// open loads the UI and waits for its login form, loading it again (twice
// at most) if the host's network changed under the load.
func (p *browserPage) open(base string) {
	p.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
		err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 || !p.sawNetworkChange() {
			p.do("load the UI", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
			return
		}
		p.t.Logf("%s: the network changed under the page load (%v); loading it again", p.name, err)
	}
}

// sawNetworkChange reports whether Chromium dropped a request because the
// network changed.
func (p *browserPage) sawNetworkChange() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.errors {
		if strings.Contains(m.Text, networkChanged) {
			return true
		}
	}
	return false
}
