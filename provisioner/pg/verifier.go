// Package pg is the provisioner's access to PostgreSQL: the local instance as
// the postgres role, the primary over TLS as a replication user, and the
// password verifiers that keep clear-text passwords out of statements.
package pg

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Verifier returns the stored form of a password for password_encryption
// method ("scram-sha-256" or "md5"). Sending it in CREATE/ALTER ROLE means the
// clear text never reaches the server, its log or pg_stat_statements.
func Verifier(method, role, password string) (string, error) {
	switch method {
	case "scram-sha-256":
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return "", err
		}
		return scramVerifier(password, salt, 4096)
	case "md5":
		sum := md5.Sum([]byte(password + role))
		return "md5" + hex.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("password encryption %q", method)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
