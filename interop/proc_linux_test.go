package interop

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownGroup makes cmd the leader of a new process group, so that killGroup
// reaches anything it spawns, and has the kernel kill it should the test
// binary die first (a timeout panic, a kill -9), so no node process
// outlives the test. Pdeathsig follows the thread that forked, which the
// Go runtime keeps alive as no goroutine here locks it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group cmd leads. A group already gone is
// not an error.
func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
