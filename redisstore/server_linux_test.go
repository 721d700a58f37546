package redisstore_test

import (
	"os/exec"
	"syscall"
)

// ownProcess has the kernel kill the server should the test binary die
// first, so no redis-server outlives the tests.
func ownProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
