package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/analytics/dashboard"
	"github.com/vexfs/semevent/propagation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startExample runs the example server with short windows until the test
// ends and returns its base URL.
func startExample(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, config{addr: "127.0.0.1:0", window: 500 * time.Millisecond, interval: 250 * time.Millisecond,
			rate: 2000, burst: 4 * time.Second}, func(u string) { urls <- u })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-errc:
		t.Fatalf("run: %v", err)
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsAndHealth(t *testing.T) {
	base := startExample(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, base+"metrics")
		if code == 200 && strings.Contains(body, `semevent_analytics_results_total{analyzer="kinds"}`) &&
			!strings.Contains(body, `semevent_analytics_results_total{analyzer="kinds"} 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window results in /metrics after 30s:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, body := get(t, base+"healthz")
	if code != 200 || !strings.Contains(body, `"name": "bus"`) {
		t.Errorf("GET /healthz = %d %s", code, body)
	}
	code, body = get(t, base)
	if code != 200 || !strings.Contains(body, `<canvas id="throughput"`) {
		t.Errorf("GET / = %d %.200s", code, body)
	}
}

// chromeDriver is a minimal WebDriver client for chromedriver's HTTP API.
type chromeDriver struct {
	t       *testing.T
	base    string
	session string
	client  *http.Client
}

func (d *chromeDriver) call(method, path string, in any) map[string]any {
	d.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("chromedriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		d.t.Fatalf("chromedriver %s %s: decode: %v", method, path, err)
	}
	if resp.StatusCode != 200 {
		d.t.Fatalf("chromedriver %s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lookChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on PATH")
}

// startBrowser starts chromedriver and a headless Chromium session.
func startBrowser(t *testing.T) *chromeDriver {
	t.Helper()
	browser, err := lookChromium()
	if err != nil {
		t.Skipf("skipping the browser test: %v (Debian: apt-get install chromium chromium-driver)", err)
	}
	driverPath, err := exec.LookPath("chromedriver")
	if err != nil || os.Getenv("DASHBOARD_DUMP_DOM") != "" {
		dumpDOM(t, browser)
		return nil
	}
	port := freePort(t)
	cmd := exec.Command(driverPath, fmt.Sprintf("--port=%d", port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	d := &chromeDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port),
		client: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := d.client.Get(d.base + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := d.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"goog:chromeOptions": map[string]any{"binary": browser, "args": []string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
			"--window-size=1400,1000", "--user-data-dir=" + t.TempDir(),
		}},
	}}})
	d.session = out["value"].(map[string]any)["sessionId"].(string)
	t.Cleanup(func() { d.call("DELETE", "/session/"+d.session, nil) })
	return d
}

// state is what the page reports through window.__dash.
type state struct {
	Updates  int            `json:"updates"`
	Errors   int            `json:"errors"`
	Drawn    map[string]int `json:"drawn"`
	Ink      map[string]int `json:"ink"`      // painted pixels per canvas
	Sig      map[string]int `json:"sig"`      // a hash of each canvas's pixels
	Rows     int            `json:"rows"`     // anomaly table rows
	Patterns int            `json:"patterns"` // frequent-sequence rows with an arrow
	// Panels are the system panels by id ("p-journal", …).
	Panels map[string]panelState `json:"panels"`
}

// panelState is one system panel as the browser shows it.
type panelState struct {
	Shown bool   `json:"shown"` // laid out (not hidden)
	Rows  int    `json:"rows"`  // table rows
	Text  string `json:"text"`  // the rendered text
}

const probe = `
const d = window.__dash;
if (!d) return null;
const ink = {}, sig = {};
for (const c of document.querySelectorAll("canvas[data-chart]")) {
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0, h = 0;
  for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; h = (h * 31 + px[i - 3] + px[i - 2] * 7 + px[i]) | 0; }
  ink[c.id] = n; sig[c.id] = h;
}
const panels = {};
for (const p of document.querySelectorAll("figure.panel")) {
  panels[p.id] = {shown: !p.hidden && p.offsetParent !== null, rows: p.querySelectorAll("tbody tr").length, text: p.innerText};
}
return {updates: d.updates, errors: d.errors, drawn: d.drawn, ink, sig, panels,
  rows: document.querySelectorAll("#anomalies tbody tr").length,
  patterns: [...document.querySelectorAll("#patterns tbody td")].filter((td) => td.textContent.includes("→")).length};`

func (d *chromeDriver) state() state {
	out := d.call("POST", "/session/"+d.session+"/execute/sync", map[string]any{"script": probe, "args": []any{}})
	var s state
	b, _ := json.Marshal(out["value"])
	_ = json.Unmarshal(b, &s)
	return s
}

// TestDashboardInChromium loads the page from the example server in
// headless Chromium and checks that every chart draws data and that the
// charts change as new snapshots stream in.
func TestDashboardInChromium(t *testing.T) {
	d := startBrowser(t)
	if d == nil {
		return // checked with --dump-dom instead
	}
	base := startExample(t)
	d.call("POST", "/session/"+d.session+"/url", map[string]any{"url": base})

	charts := []string{"throughput", "latency", "windows", "top", "quantiles"}
	ready := func(s state) bool {
		for _, c := range charts {
			if s.Drawn[c] < 1 || s.Ink[c] < 500 {
				return false
			}
		}
		return s.Updates >= 3 && s.Drawn["throughput"] >= 2
	}
	var first state
	deadline := time.Now().Add(60 * time.Second)
	for first = d.state(); !ready(first); first = d.state() {
		if time.Now().After(deadline) {
			t.Fatalf("charts not drawn after 60s: %+v", first)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The charts update: more snapshots arrive and the throughput and
	// window charts are redrawn with different data.
	var later state
	for later = d.state(); later.Updates < first.Updates+4 || later.Sig["throughput"] == first.Sig["throughput"] ||
		later.Sig["windows"] == first.Sig["windows"]; later = d.state() {
		if time.Now().After(deadline) {
			t.Fatalf("charts did not change: first %+v, later %+v", first, later)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if later.Errors != 0 {
		t.Errorf("the page failed to render %d snapshots", later.Errors)
	}
	if later.Rows < 1 {
		t.Errorf("anomaly table has %d rows", later.Rows)
	}
	if later.Patterns < 1 {
		t.Errorf("no frequent sequence shown")
	}
	// System panels: the example wires the bus and a journal, not a
	// cluster, automation or capture.
	for id, p := range later.Panels {
		wired := id == "p-subscriptions" || id == "p-journal"
		if p.Shown != wired {
			t.Errorf("panel %s shown = %v, want %v", id, p.Shown, wired)
		}
	}
	if p := later.Panels["p-subscriptions"]; p.Rows != 3 || !regexp.MustCompile(`archiver\t[1-9][0-9.]*k?\t[1-9]`).MatchString(p.Text) {
		t.Errorf("subscriptions panel: %d rows (want analytics, patterns, archiver with numbers):\n%s", p.Rows, p.Text)
	}
	if p := later.Panels["p-journal"]; !regexp.MustCompile(`(?s)SIZE\s+[0-9.]+ (B|KiB|MiB).*SEGMENTS\s+[1-9].*indexer\t[1-9]`).MatchString(p.Text) {
		t.Errorf("journal panel does not show a size, segments and the indexer's offset:\n%s", p.Text)
	}
	t.Logf("first: %d updates, drawn %v; later: %d updates, drawn %v", first.Updates, first.Drawn, later.Updates, later.Drawn)

	shot := d.call("GET", "/session/"+d.session+"/screenshot", nil)
	png, err := base64.StdEncoding.DecodeString(shot["value"].(string))
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %v, %d bytes", err, len(png))
	}
	path := os.Getenv("DASHBOARD_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// dumpDOM is the check without chromedriver: Chromium loads the page in
// polling mode (an open event stream would hold --dump-dom forever) with
// a virtual time budget and prints the DOM, in which the page mirrors how
// many snapshots it drew and how many points each chart holds.
func dumpDOM(t *testing.T, browser string) {
	t.Log("chromedriver not on PATH: checking the page with chromium --dump-dom instead")
	base := startExample(t)
	time.Sleep(2 * time.Second) // let a few windows close
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--window-size=1400,1000",
		"--virtual-time-budget=5000", "--dump-dom", base+"?poll=250").Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	dom := string(out)
	m := regexp.MustCompile(`data-updates="(\d+)"`).FindStringSubmatch(dom)
	if m == nil || m[1] == "0" || m[1] == "1" {
		t.Fatalf("page drew %v snapshots, want at least 2:\n%.2000s", m, dom)
	}
	for _, c := range []string{"throughput", "latency", "windows", "top", "quantiles"} {
		dm := regexp.MustCompile(`id="` + c + `"[^>]*data-drawn="(\d+)"`).FindStringSubmatch(dom)
		if dm == nil || dm[1] == "0" {
			t.Errorf("chart %s drew %v points", c, dm)
		}
	}
}

// TestSystemPanelsInChromium wires every system panel's source (fixed
// figures standing in for a journal, a Raft cluster, the rule engine and
// the FUSE bridge) and checks in headless Chromium that each panel
// appears and shows its source's numbers.
func TestSystemPanelsInChromium(t *testing.T) {
	d := startBrowser(t)
	if d == nil {
		return
	}
	var ops atomic.Uint64
	dash, err := dashboard.New(&dashboard.Options{
		Title: "system", Interval: 100 * time.Millisecond,
		Bus: func() propagation.Stats {
			return propagation.Stats{Published: 10, Subscriptions: []propagation.SubscriptionStats{
				{Name: "indexer", Matched: 7001, Delivered: 6998, Depth: 3, Dropped: propagation.DropStats{Full: 3}}}}
		},
		Journal: func() dashboard.JournalPanel {
			return dashboard.JournalPanel{Bytes: 5 << 20, Segments: 3, NextOffset: 1200,
				Consumers: []dashboard.ConsumerLag{{Name: "acme-indexer", Offset: 1100, Lag: 100}}}
		},
		Cluster: func() dashboard.ClusterPanel {
			return dashboard.ClusterPanel{Node: "n1",
				Shards: []dashboard.ShardStatus{{ID: 7, Leader: "n2", Members: []string{"n1", "n2", "n3"}, Applied: 4242, Lag: 2}},
				Peers:  []dashboard.PeerStatus{{Node: "n2", Phi: 0.25, Up: true}, {Node: "n3", Phi: math.Inf(1)}}}
		},
		Automation: func() dashboard.AutomationPanel {
			return dashboard.AutomationPanel{Rules: []dashboard.RuleHits{{Name: "alert-tmp", Hits: 12}},
				WorkflowsRunning: 2, WorkflowsFailed: 1, OpenBreakers: []string{"webhook"}}
		},
		Capture: func() dashboard.CapturePanel {
			return dashboard.CapturePanel{FUSEOps: ops.Add(50), WatcherMode: "fanotify", Overflows: 1, Events: 77}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash)
	t.Cleanup(func() {
		_ = dash.Close(context.Background())
		srv.Close()
	})
	d.call("POST", "/session/"+d.session+"/url", map[string]any{"url": srv.URL + "/"})

	want := map[string]*regexp.Regexp{
		"p-subscriptions": regexp.MustCompile(`indexer\t7001\t6998\t3\t0\t0\t0\t0\t3`),
		"p-journal":       regexp.MustCompile(`(?s)5\.0 MiB.*SEGMENTS\s+3.*1200.*acme-indexer\t1100\t100`),
		"p-cluster":       regexp.MustCompile(`(?s)7\tn2\tn1, n2, n3\t–\t4242\t2.*n2\t0\.25\tup.*n3\t–\tsuspected`),
		"p-automation":    regexp.MustCompile(`(?s)RUNNING\s+2.*FAILED\s+1.*webhook.*alert-tmp\t12`),
		"p-capture":       regexp.MustCompile(`(?s)fanotify.*77.*OVERFLOWS\s+1`),
	}
	var s state
	deadline := time.Now().Add(60 * time.Second)
	for {
		s = d.state()
		ok := s.Updates >= 3 && s.Ink["fuseops"] > 200
		for id, re := range want {
			ok = ok && s.Panels[id].Shown && re.MatchString(s.Panels[id].Text)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			for id, re := range want {
				p := s.Panels[id]
				if !p.Shown || !re.MatchString(p.Text) {
					t.Errorf("panel %s (shown %v) does not match %s:\n%s", id, p.Shown, re, p.Text)
				}
			}
			t.Fatalf("system panels not rendered after 60s (updates %d, fuseops ink %d)", s.Updates, s.Ink["fuseops"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s.Errors != 0 {
		t.Errorf("the page failed to render %d snapshots", s.Errors)
	}
	if s.Drawn["fuseops"] < 1 {
		t.Errorf("FUSE ops/s chart drew %d points", s.Drawn["fuseops"])
	}
	d.call("POST", "/session/"+d.session+"/execute/sync", map[string]any{
		"script": `document.getElementById("system-title").scrollIntoView()`, "args": []any{}})
	shot := d.call("GET", "/session/"+d.session+"/screenshot", nil)
	if png, err := base64.StdEncoding.DecodeString(shot["value"].(string)); err == nil {
		if path := os.Getenv("DASHBOARD_SYSTEM_SCREENSHOT"); path != "" {
			_ = os.WriteFile(path, png, 0o644)
		}
	}
}
