// Package xroadsetup runs, at first boot, the X-Road packages' own setup that
// an image is built without: the TLS identities their maintainer scripts
// make, the databases their postinsts set up (skipped in the image build with
// XROAD_IGNORE_DATABASE_SETUP) and the admin user's groups (debconf's
// xroad-common/username). Each node makes its own; what a cluster shares
// comes from its primary.
package xroadsetup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"xroad-appliance/profiles"
	"xroad-appliance/provisioner/confedit"
	"xroad-appliance/provisioner/engine"
	"xroad-appliance/provisioner/metadata"
	"xroad-appliance/provisioner/pg"
	"xroad-appliance/provisioner/retry"
	"xroad-appliance/provisioner/system"
)

// SSLDir is where the packages keep their TLS identities.
const SSLDir = "/etc/xroad/ssl"

// DBProperties is the packages' database settings file.
const DBProperties = "/etc/xroad/db.properties"

// Certificates makes each named TLS identity (NAME.crt, .key and .p12 in
// SSLDir) that is missing, with the packages' own script, for subject and
// the alternative names: a cluster's public name first, then its nodes.
func Certificates(f profiles.XRoadSetup, names []string, subject string, alt []string) engine.Phase {
	var actions []string
	args := func(name string) []string {
		return []string{f.CertificateScript, "-n", name, "-s", "/CN=" + subject, "-a", AltNames(append([]string{subject}, alt...)), "-p"}
	}
	for _, name := range names {
		actions = append(actions, strings.Join(args(name), " "))
	}
	return engine.Phase{
		Name: "certificates", Summary: "TLS identities " + strings.Join(names, ", ") + " for " + subject,
		Actions: actions,
		Check: func(context.Context) (bool, error) {
			return HaveCertificates(names), nil
		},
		Apply: func(ctx context.Context) error {
			for _, name := range names {
				if !missing(name) {
					continue
				}
				// A half-made identity is remade whole.
				for _, ext := range []string{".crt", ".key", ".p12"} {
					if err := os.Remove(filepath.Join(SSLDir, name+ext)); err != nil && !os.IsNotExist(err) {
						return err
					}
				}
				if _, err := system.Run(ctx, system.Cmd{Args: args(name)}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// HaveCertificates tells whether every named identity is complete.
func HaveCertificates(names []string) bool {
	return !slices.ContainsFunc(names, missing)
}

func missing(name string) bool {
	for _, ext := range []string{".crt", ".key", ".p12"} {
		if _, err := os.Stat(filepath.Join(SSLDir, name+ext)); err != nil {
			return true
		}
	}
	return false
}

// AltNames is a subjectAltName list: IP: for addresses, DNS: for names, each once.
func AltNames(hosts []string) string {
	var out []string
	for _, h := range hosts {
		kind := "DNS:"
		if _, err := netip.ParseAddr(h); err == nil {
			kind = "IP:"
		}
		if h != "" && !slices.Contains(out, kind+h) {
			out = append(out, kind+h)
		}
	}
	return strings.Join(out, ",")
}

// Database runs the packages' setup of the database db.properties names by
// prefix, on host:port (127.0.0.1 and the instance's port), unless its user
// already logs in with the password db.properties holds.
func Database(f profiles.XRoadSetup, prefix string, port int) engine.Phase {
	script := f.DatabaseSetup[prefix]
	host := fmt.Sprintf("127.0.0.1:%d", port)
	return engine.Phase{
		Name: prefix + "-database", Summary: "the " + prefix + " database, set up by the packages on port " + fmt.Sprint(port),
		Actions: []string{script + " " + host},
		Check: func(ctx context.Context) (bool, error) {
			return loginWorks(ctx, prefix, port), nil
		},
		Apply: func(ctx context.Context) error {
			return RunPackageTool(ctx, system.Cmd{Args: []string{script, host}})
		},
	}
}

// loginWorks tells whether db.properties' user for prefix logs in to its database.
func loginWorks(ctx context.Context, prefix string, port int) bool {
	b, err := os.ReadFile(DBProperties)
	if err != nil {
		return false
	}
	get := func(key string) string {
		v, _ := confedit.GetProperty(b, prefix+".hibernate.connection."+key)
		return v
	}
	u, pw := get("username"), get("password")
	if u == "" || pw == "" {
		return false
	}
	return pg.PasswordWorks(ctx, port, u, pw, DatabaseName(get("url")))
}

// DatabaseName is the database of a jdbc:postgresql://hosts/NAME?… URL.
func DatabaseName(url string) string {
	rest, ok := strings.CutPrefix(url, "jdbc:postgresql://")
	if !ok {
		return ""
	}
	_, path, _ := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(path, "?")
	return name
}

// AdminUser creates the X-Road admin user with the kit's password hash,
// names it to the packages (debconf's xroad-common/username) and has the
// package apply its own group rule, which reads the node's type: a
// secondary's admin gets only the groups a secondary keeps. env is extra
// environment for the rule's command.
func AdminUser(a *metadata.AdminUser, r profiles.AdminUserRule, pkg string, groups []string, env []string) engine.Phase {
	apply := RuleCommand(r, pkg, a.Name)
	actions := []string{"useradd --create-home --shell /bin/bash " + a.Name, "chpasswd -e (the kit's hash on stdin)"}
	if r.DebconfQuestion != "" {
		actions = append(actions, fmt.Sprintf("debconf-set-selections: %s %s string %s", pkg, r.DebconfQuestion, a.Name))
	}
	actions = append(actions, strings.Join(apply, " "))
	return engine.Phase{
		Name: "admin-user", Summary: "X-Road admin user " + a.Name + " in " + strings.Join(groups, ", "),
		Actions: actions,
		Check: func(context.Context) (bool, error) {
			if hash, err := shadowHash(a.Name); err != nil || hash != a.PasswordHash {
				return false, err
			}
			return inGroups(a.Name, groups)
		},
		Apply: func(ctx context.Context) error {
			if !system.UserExists(a.Name) {
				if _, err := system.Run(ctx, system.Cmd{Args: []string{"useradd", "--create-home", "--shell", "/bin/bash", a.Name}}); err != nil {
					return err
				}
			}
			if _, err := system.Run(ctx, system.Cmd{Args: []string{"chpasswd", "-e"}, Stdin: strings.NewReader(a.Name + ":" + a.PasswordHash + "\n")}); err != nil {
				return err
			}
			if r.DebconfQuestion != "" {
				line := fmt.Sprintf("%s %s string %s\n", pkg, r.DebconfQuestion, a.Name)
				if err := RunPackageTool(ctx, system.Cmd{Args: []string{"debconf-set-selections"}, Stdin: strings.NewReader(line)}); err != nil {
					return err
				}
			}
			return RunPackageTool(ctx, system.Cmd{Args: apply, Env: env})
		},
	}
}

// lockWait bounds how long a package tool waits for another's lock.
const lockWait = 2 * time.Minute

// lockedRE matches debconf's and dpkg's "someone else holds the lock".
var lockedRE = regexp.MustCompile(`is locked by another process|Could not get lock|dpkg frontend lock`)

// RunPackageTool runs a debconf or dpkg tool, waiting while another holds
// their lock: at first boot the distribution's own units (ssl-cert's, say)
// and cloud-init may be using debconf at the same moment.
func RunPackageTool(ctx context.Context, c system.Cmd) error {
	stdin, _ := io.ReadAll(orEmpty(c.Stdin))
	locked := func(err error) bool { return lockedRE.MatchString(err.Error()) }
	return retry.Do(ctx, retry.Policy{First: 250 * time.Millisecond, Max: 5 * time.Second, Timeout: lockWait, Transient: locked},
		c.Args[0], func(ctx context.Context) error {
			c.Stdin = bytes.NewReader(stdin)
			_, err := system.Run(ctx, c)
			return err
		})
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

// RuleCommand is the command that applies package pkg's rule for user.
func RuleCommand(r profiles.AdminUserRule, pkg, user string) []string {
	cmd := make([]string, len(r.Apply))
	for i, arg := range r.Apply {
		cmd[i] = strings.NewReplacer("{package}", pkg, "{user}", user).Replace(arg)
	}
	return cmd
}

// shadowHash is the user's password hash in /etc/shadow, or "".
func shadowHash(name string) (string, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) >= 2 && fields[0] == name {
			return fields[1], nil
		}
	}
	return "", sc.Err()
}

// inGroups tells whether the user exists and is in every group.
func inGroups(name string, groups []string) (bool, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return false, nil
	}
	ids, err := u.GroupIds()
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		grp, err := user.LookupGroup(g)
		if err != nil || !slices.Contains(ids, grp.Gid) {
			return false, nil
		}
	}
	return true, nil
}
