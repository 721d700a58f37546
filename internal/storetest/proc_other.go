//go:build !linux

package storetest

import (
	"errors"
	"os"
	"os/exec"
)

// ownGroup leaves cmd as it is: process groups are set up on Linux only,
// where CI runs.
func ownGroup(cmd *exec.Cmd) {}

// killGroup kills the process cmd started; one already gone is not an
// error.
func killGroup(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
