package storetest

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownGroup makes cmd lead a new process group, and has the kernel kill it
// should the test binary die first, so no child outlives the test.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group cmd leads; one already gone is not an
// error.
func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
