package kit

import (
	"fmt"

	"github.com/GehirnInc/crypt/sha512_crypt"

	"xroad-appliance/provisioner/metadata"
)

// DefaultAdminUser names the X-Road admin user when the spec does not.
const DefaultAdminUser = "xroad-admin"

// AdminUser is the spec's X-Road admin user: a name and either the hash of
// the password or nothing, and then the kit draws a password, hands it back
// once (Result.AdminPassword) and writes only its hash.
type AdminUser struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"passwordHash,omitempty"`
	// Password is read only to refuse it with a message that names the field:
	// a clear-text password must not sit in a spec or a kit.
	Password string `yaml:"password,omitempty"`
}

func (a *AdminUser) validate() error {
	if a == nil {
		return nil
	}
	if a.Password != "" {
		return fieldErr("adminUser.password", "a clear-text password is refused; give passwordHash (`openssl passwd -6`) or leave both out and the kit makes a password")
	}
	if msg := metadata.AdminUserNameProblem(a.Name); msg != "" {
		return fieldErr("adminUser.name", "%s", msg)
	}
	if a.PasswordHash != "" {
		if msg := metadata.PasswordHashProblem(a.PasswordHash); msg != "" {
			return fieldErr("adminUser.passwordHash", "%s", msg)
		}
	}
	return nil
}

// adminUser is the admin user every X-Road node of the kit gets: the spec's
// hash, else the one a previous kit gave the same user, else a new password's.
// The clear-text password is returned only when it was drawn here.
func adminUser(spec *AdminUser, prev *metadata.AdminUser) (*metadata.AdminUser, string, error) {
	a := metadata.AdminUser{Name: DefaultAdminUser}
	if spec != nil {
		a.Name, a.PasswordHash = spec.Name, spec.PasswordHash
	}
	if a.PasswordHash != "" {
		return &a, "", nil
	}
	if prev != nil && prev.Name == a.Name {
		a.PasswordHash = prev.PasswordHash
		return &a, "", nil
	}
	password, err := newPassword()
	if err != nil {
		return nil, "", err
	}
	// SHA-512 crypt: what pam_unix verifies on every supported platform.
	hash, err := sha512_crypt.New().Generate([]byte(password), nil)
	if err != nil {
		return nil, "", fmt.Errorf("admin user password hash: %w", err)
	}
	a.PasswordHash = hash
	return &a, password, nil
}
