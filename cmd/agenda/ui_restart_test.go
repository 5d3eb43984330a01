package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFollowsANodeRestart: a page stays open while its node stops
// and starts again on the same data (an upgrade, a crash Swarm restarts).
// The page says the connection is lost, reconnects by itself once the node
// is back, resumes its stream, and shows a change made after the restart,
// all without a reload. Earlier notes left this walked through only with a
// simulated connection loss.
func TestBrowserFollowsANodeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	chromium := findChromium(t)
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPAddr = freeAddr(t) // the same address after the restart
	n := startNode(t, cfg)
	base := "http://" + n.HTTPAddr()
	browser := startBrowser(t, chromium)
	ana := registerUser(t, n, "ana")

	day := time.Now().AddDate(0, 0, 2).Truncate(24 * time.Hour).Add(9 * time.Hour)
	ana.create("Before the restart", day, time.Hour)
	p := newBrowserPage(t, browser, "ana")
	p.login(base, "ana", "password-ana")
	week := "#/week?d=" + day.Format("2006-01-02")
	p.do("open the week", chromedp.Evaluate[chromedp.Void]("location.hash = '"+week+"'"))
	if err := p.poll(`document.querySelector('.week') && document.querySelector('.week').textContent.includes('Before the restart')`, 10*time.Second); err != nil {
		t.Fatalf("the week does not show the appointment: %v", err)
	}

	if err := n.Close(); err != nil {
		t.Fatalf("stop the node: %v", err)
	}
	if err := p.poll(`document.getElementById('live-state').dataset.state === 'reconnecting'`, 10*time.Second); err != nil {
		t.Errorf("the page does not say its connection was lost: %v", err)
	}
	time.Sleep(2 * time.Second) // a few reconnections fail meanwhile

	startNode(t, cfg)
	ana.create("After the restart", day.Add(2*time.Hour), time.Hour)
	// The page retries with a backoff that has reached a few seconds.
	live := `document.getElementById('live-state').dataset.state === 'live'`
	shown := `document.querySelector('.week').textContent.includes('After the restart') && document.querySelector('.week').textContent.includes('Before the restart')`
	if err := p.poll(live+` && `+shown, 30*time.Second); err != nil {
		t.Fatalf("the page did not come back live with the change made after the restart: %v", err)
	}
	if kept, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("window.__noReload === true")); err != nil || !kept {
		t.Errorf("the page was reloaded (or could not be asked: %v)", err)
	}
	var errs []string
	for _, e := range p.consoleErrors() {
		// What the browser itself logs of the connections refused while
		// the node was down is the network's, not the page's.
		if strings.Contains(e, "ERR_CONNECTION_REFUSED") || strings.Contains(e, "WebSocket connection to") {
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		t.Errorf("console errors:\n\t%s", strings.Join(errs, "\n\t"))
	}
}
