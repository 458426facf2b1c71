package sandbox

import (
	"fmt"
	"os"
	"os/exec"
)

// landlockReadable are the host paths every worker may read under Landlock besides its
// own: the system's programs and libraries, the files of /etc a program needs to start
// (see etcFiles), /proc, the CPU topology that numerical libraries read, and the
// random devices.
var landlockReadable = append(append([]string{"/usr"}, rootLinks...), append(etcFiles,
	"/proc", "/sys/devices/system/cpu", "/dev/urandom", "/dev/random")...)

// landlockCommand runs p through the helper, which confines itself with Landlock and
// execs p: it may read the system paths and p's, write only a new private temporary
// directory, and use no TCP port.
func (s *Sandbox) landlockCommand(p Process) (*exec.Cmd, func(), error) {
	tmp, err := os.MkdirTemp("", "mlship-worker-")
	if err != nil {
		return nil, nil, fmt.Errorf("create the worker's temporary directory: %w", err)
	}
	done := func() { os.RemoveAll(tmp) }
	if s.uid >= 0 {
		if err := os.Chown(tmp, s.uid, s.gid); err != nil {
			done()
			return nil, nil, fmt.Errorf("give the worker's temporary directory to its user: %w", err)
		}
	}
	args := append(s.helperArgs(), "--landlock", "--rw", tmp)
	for _, path := range append(append(landlockReadable, p.Dir), p.ReadOnly...) {
		args = append(args, "--ro", path)
	}
	cmd := exec.Command(s.helper, append(append(args, "--"), p.Argv...)...)
	cmd.Env, cmd.Dir = withTemp(p.Env, tmp), p.Dir
	return cmd, done, nil
}
