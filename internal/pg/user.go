package pg

import (
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
)

// prepareRunAs picks (or creates) the unprivileged OS user that runs
// Postgres when AYB itself runs as root.
func (c *Cluster) prepareRunAs() error {
	name := c.opts.OSUser
	if name == "" {
		if _, err := user.Lookup("postgres"); err == nil {
			name = "postgres"
		} else {
			name = "ayb"
		}
	}
	c.opts.OSUser = name
	u, err := user.Lookup(name)
	if err != nil {
		c.opts.logf("running as root: creating OS user %q to run PostgreSQL", name)
		out, cerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput()
		if cerr != nil {
			return fmt.Errorf("running as root, PostgreSQL needs an unprivileged OS user; creating %q failed: %v: %s", name, cerr, out)
		}
		if u, err = user.Lookup(name); err != nil {
			return err
		}
	}
	c.uid, _ = strconv.Atoi(u.Uid)
	c.gid, _ = strconv.Atoi(u.Gid)
	c.runAs = true
	return nil
}
