package metadata

import (
	"regexp"
)

// AdminUser is the X-Road admin user: a Linux account that logs in to the
// admin UI through PAM, given the admin groups by the packages' own rule.
// Only the password's crypt(3) hash travels; it is treated as a secret.
type AdminUser struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"passwordHash"`
}

// userNameRE is what useradd accepts everywhere without --badname.
var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// reservedUsers are accounts the packages and the appliance own.
var reservedUsers = map[string]bool{
	"root": true, "xroad": true, "postgres": true, "xroad-slave": true,
	"daemon": true, "nobody": true, "sshd": true, "systemd-network": true,
}

// cryptHashRE accepts the crypt(3) formats PAM's pam_unix verifies today:
// SHA-256 ($5$), SHA-512 ($6$), yescrypt ($y$), gost-yescrypt ($gy$) and
// bcrypt ($2b$, $2y$). MD5 and DES crypt are too weak to accept.
var cryptHashRE = regexp.MustCompile(`^\$(5|6|y|gy|2b|2y)\$[./A-Za-z0-9$=,]{8,250}$`)

// AdminUserNameProblem says what is wrong with an admin user name, or "".
func AdminUserNameProblem(v string) string {
	switch {
	case v == "":
		return "required"
	case !userNameRE.MatchString(v):
		return "must be a Linux user name: a lower-case letter or '_', then up to 31 of a-z, 0-9, '_' and '-'"
	case reservedUsers[v]:
		return "is a system account the appliance or the packages own"
	}
	return ""
}

// PasswordHashProblem says what is wrong with a password hash, or "". It
// never quotes the value: a clear-text password put here by mistake must
// not reach a terminal or a log.
func PasswordHashProblem(v string) string {
	switch {
	case v == "":
		return "required"
	case !cryptHashRE.MatchString(v):
		return "must be a crypt(3) hash ($6$…, $y$…, as `openssl passwd -6` or `mkpasswd` prints); a clear-text password is refused"
	}
	return ""
}

func (c *checker) adminUser(field string, a *AdminUser) {
	if a == nil {
		return
	}
	if msg := AdminUserNameProblem(a.Name); msg != "" {
		c.fail(field+".name", "%s", msg)
	}
	if msg := PasswordHashProblem(a.PasswordHash); msg != "" {
		c.fail(field+".passwordHash", "%s", msg)
	}
}
