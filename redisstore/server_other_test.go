//go:build !linux

package redisstore_test

import "os/exec"

// ownProcess leaves cmd as it is: the death signal is Linux's.
func ownProcess(cmd *exec.Cmd) {}
