package process

import "syscall"

// sysProcAttr puts a worker in its own process group, so that a terminal's Ctrl-C
// reaches the server, which stops its workers in order, and not the workers directly;
// and has the kernel kill the worker if the server dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
