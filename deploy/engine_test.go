package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this package drive a real Docker engine through the docker
// and docker-compose command-line tools. Everything they create carries
// the prefix of this run (runID): containers, networks, volumes, secrets,
// the image tag. Each is removed by t.Cleanup, on failure too; a swarm is
// left only if it existed before.

// runID names what this test run creates.
var runID = fmt.Sprintf("agt%d", os.Getpid()%100000)

// engineReason is why the engine tests cannot run here ("" if they can).
var (
	engineOnce   sync.Once
	engineReason string
)

// requireEngine skips the test unless a Docker engine answers.
func requireEngine(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the Docker engine tests take minutes")
	}
	engineOnce.Do(func() {
		if _, err := exec.LookPath("docker"); err != nil {
			engineReason = "no docker command on PATH"
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
		if err != nil {
			engineReason = fmt.Sprintf("no Docker engine reachable (docker info: %v: %s)", err, strings.TrimSpace(string(out)))
		}
	})
	if engineReason != "" {
		t.Skipf("skipping the Docker engine tests: %s", engineReason)
	}
}

// requireTime skips the test unless the test binary's -timeout leaves it
// about need: a test killed by the timeout runs no cleanup, and would
// leave its containers, volumes and swarm behind.
func requireTime(t *testing.T, need time.Duration) {
	t.Helper()
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < need {
		t.Skipf("skipping: %v left before the test binary's -timeout, and this test may need %v; run go test -timeout 30m ./deploy",
			time.Until(deadline).Round(time.Second), need)
	}
}

// run runs a command and returns its trimmed standard output; it fails the
// test with the command's output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := try(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// try runs a command (at most 5 minutes) and returns its trimmed standard
// output, or an error carrying its standard error.
func try(name string, args ...string) (string, error) {
	return tryEnv(nil, name, args...)
}

func tryEnv(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()+" "+stdout.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// repoRoot is the module root (this package is deploy/).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

// image builds the Agenda image once per test binary, as the Taskfile's
// image task does (a static binary, then docker build on the repository's
// Dockerfile and .dockerignore), and returns its tag. TestMain removes it.
func image(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		start := time.Now()
		root := repoRoot(t)
		ctxDir, err := os.MkdirTemp("", runID+"-image-")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(ctxDir)
		if err := os.MkdirAll(filepath.Join(ctxDir, "bin", "image", "data"), 0o755); err != nil {
			imageErr = err
			return
		}
		build := exec.Command("go", "build", "-tags", "netgo,osusergo,sqlite_omit_load_extension",
			"-ldflags", "-linkmode external -extldflags -static -s -w",
			"-o", filepath.Join(ctxDir, "bin", "agenda"), "./cmd/agenda")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("static build: %v: %s", err, out)
			return
		}
		for _, f := range []string{"Dockerfile", ".dockerignore"} {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				imageErr = err
				return
			}
			if err := os.WriteFile(filepath.Join(ctxDir, f), b, 0o644); err != nil {
				imageErr = err
				return
			}
		}
		tag := "agenda-test:" + runID
		if _, err := try("docker", "build", "-q", "-t", tag, ctxDir); err != nil {
			imageErr = fmt.Errorf("docker build: %v", err)
			return
		}
		imageTag = tag
		fmt.Fprintf(os.Stderr, "deploy: built image %s in %v\n", tag, time.Since(start).Round(100*time.Millisecond))
	})
	if imageErr != nil {
		t.Fatalf("build the image: %v", imageErr)
	}
	return imageTag
}

func TestMain(m *testing.M) {
	code := m.Run()
	if imageTag != "" {
		try("docker", "image", "rm", "-f", imageTag)
	}
	os.Exit(code)
}

// TestImage checks the image itself: it runs as a non-root user, and a
// node started with a named volume keeps its data across containers.
func TestImage(t *testing.T) {
	requireEngine(t)
	requireTime(t, 2*time.Minute)
	tag := image(t)
	if user := run(t, "docker", "image", "inspect", "--format", "{{.Config.User}}", tag); user == "" || strings.HasPrefix(user, "0") || user == "root" {
		t.Fatalf("image runs as %q, want a non-root user", user)
	}
	vol := runID + "-image-data"
	name := runID + "-image"
	t.Cleanup(func() {
		try("docker", "rm", "-f", name)
		try("docker", "volume", "rm", "-f", vol)
	})
	start := func() string {
		run(t, "docker", "run", "-d", "--name", name, "-v", vol+":/data", tag)
		ip := containerIP(t, name)
		waitFor(t, 60*time.Second, "single node ready", func() string { return readyErr(ip) })
		return ip
	}
	ip := start()
	c := newClient(ip)
	c.register(t, "imageuser")
	w := c.mustCreate(t, 1)
	run(t, "docker", "rm", "-f", name)
	ip = start()
	c.setAddr(ip)
	c.login(t)
	c.expectVisible(t, w)
}

// containerIP returns the container's IP address on its (first) network:
// the host reaches containers on bridge networks directly.
func containerIP(t *testing.T, name string) string {
	t.Helper()
	var ip string
	waitFor(t, 30*time.Second, "IP of "+name, func() string {
		out, err := try("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name)
		if err != nil {
			return err.Error()
		}
		if f := strings.Fields(out); len(f) > 0 {
			ip = f[0]
			return ""
		}
		return "no IP yet"
	})
	return ip
}

// waitFor polls cond every 250 ms until it returns "" or d has passed, then
// fails with its last word.
func waitFor(t *testing.T, d time.Duration, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		last := cond()
		if last == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, d, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
