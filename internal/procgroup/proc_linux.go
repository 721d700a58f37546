package procgroup

import (
	"errors"
	"os/exec"
	"syscall"
)

// Own makes cmd, before it starts, the leader of a new process group, so
// that Kill reaches anything it spawns, and has the kernel kill it should
// the test binary die first (a timeout panic, a kill -9). Pdeathsig follows
// the thread that forked, which the Go runtime keeps alive as no goroutine
// of the callers locks it.
func Own(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Kill kills the process group cmd leads. A group already gone is not an
// error.
func Kill(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
