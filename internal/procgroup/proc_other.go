//go:build !linux

package procgroup

import (
	"errors"
	"os"
	"os/exec"
)

// Own leaves cmd as it is: process groups are set up on Linux only, where
// CI runs.
func Own(cmd *exec.Cmd) {}

// Kill kills the process cmd started. A process already gone is not an
// error.
func Kill(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
