package redisstore_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envInterop set to "required" turns a missing redis-server into a test
// failure instead of a skip (.ci/run sets it).
const envInterop = "AAUTH_INTEROP"

const (
	redisStarts       = 3 // tries, for when the port picked was taken meanwhile
	redisStartTimeout = 10 * time.Second
	redisStopTimeout  = 5 * time.Second
)

// redisServer is a redis-server process of a test's own, on a loopback
// port, keeping nothing on disk.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// needRedis returns the path of redis-server, skipping t when there is
// none, or failing it when AAUTH_INTEROP=required.
func needRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	msg := "redis-server not found on PATH (Debian: apt-get install redis-server)"
	if os.Getenv(envInterop) == "required" {
		t.Fatal(msg + "; AAUTH_INTEROP=required")
	}
	t.Skip(msg)
	return ""
}

// startRedis starts a redis-server on a free loopback port. It is
// stopped when the test ends.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: needRedis(t), dir: t.TempDir()}
	var err error
	for range redisStarts {
		var port int
		if port, err = freePort(); err != nil {
			continue
		}
		if err = r.start(port); err == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("starting redis-server: %v", err)
	return nil
}

// freePort returns a loopback port nobody listened on a moment ago: redis
// cannot be told to pick one (--port 0 means no TCP at all).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on port and waits until it answers PING.
func (r *redisServer) start(port int) error {
	r.Port, r.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir,
		"--daemonize", "no", "--logfile", "", "--loglevel", "warning")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	ownProcess(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(redisStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited: %s", strings.TrimSpace(out.String()))
		default:
		}
		if ping(r.Addr) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.kill()
	return errors.New("redis-server did not answer PING in time")
}

// ping sends PING and expects PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop stops the server (SIGTERM to its own PID, then SIGKILL), bounded.
// Stopping a stopped server does nothing.
func (r *redisServer) Stop() {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
		r.cmd = nil
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(redisStopTimeout):
		r.kill()
	}
	r.cmd = nil
}

func (r *redisServer) kill() {
	r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(redisStopTimeout):
		r.t.Errorf("redis-server %d did not exit after a kill", r.cmd.Process.Pid)
	}
}

// Restart starts the server again on the same port, empty.
func (r *redisServer) Restart() {
	r.t.Helper()
	r.Stop()
	if err := r.start(r.Port); err != nil {
		r.t.Fatalf("restarting redis-server: %v", err)
	}
}
