package metadata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"xroad-appliance/provisioner/inputfile"
)

func marshal(t testing.TB, d *Document) string {
	t.Helper()
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseValid(t *testing.T) {
	for name, d := range map[string]*Document{"primary": primaryDoc(t), "secondary": secondaryDoc(t)} {
		t.Run(name, func(t *testing.T) {
			got, err := Parse([]byte(marshal(t, d)))
			if err != nil {
				t.Fatalf("valid %s document rejected: %v", name, err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Errorf("round trip changed the document:\n got %#v\nwant %#v", got.Redacted(), d.Redacted())
			}
		})
	}
}

// TestParseHandWritten reads a document as an operator or xroad-image writes
// it: literal blocks, comments, options left to their defaults.
func TestParseHandWritten(t *testing.T) {
	m := material(t)
	ind := func(s string) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") + "\n"
	}
	text := "# role metadata for ss2\n" +
		"version: " + Version + "\ncluster: ss-cluster\nrole: secondary\nnode: ss2\n" +
		"primary:\n  name: ss1\n  address: 10.20.0.11\n  hostKey: " + m.hostKey.pub + "\n" +
		"serverconfPassword: '" + testPassword + "'\n" +
		"tls:\n  ca: |\n" + ind(m.caPEM) + "  cert: |\n" + ind(m.tls["ss2"].cert) + "  key: |\n" + ind(m.tls["ss2"].key) +
		"ssh:\n  privateKey: |\n" + ind(m.userKeys["ss2"].priv) + "  publicKey: " + m.userKeys["ss2"].pub + "\n"
	d, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if d.Options.HealthCheckPort != 5588 || d.Options.HealthCheckInterface != "0.0.0.0" || d.Options.PooledConnections {
		t.Errorf("defaults not applied: %+v", d.Options)
	}
	// An options section that sets only one field keeps the other defaults.
	d, err = Parse([]byte(text + "options:\n  pooledConnections: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Options.HealthCheckPort != 5588 || d.Options.HealthCheckInterface != "0.0.0.0" || !d.Options.PooledConnections {
		t.Errorf("partial options: %+v", d.Options)
	}
}

type badCase struct {
	name  string
	base  func(testing.TB) *Document // primaryDoc when nil
	edit  func(*Document)            // applied before marshalling
	text  func(string) string        // applied to the YAML text
	field string                     // substring the error must contain
}

func badCases(t testing.TB) []badCase {
	m := material(t)
	sec := secondaryDoc
	jp := joinPrimaryDoc
	otherKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	otherCAKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	otherCA, _ := newCA(otherCAKey, "Other CA")
	ss1Key := func() *ecdsa.PrivateKey {
		b, _ := pem.Decode([]byte(m.tls["ss1"].key))
		return must(x509.ParsePKCS8PrivateKey(b.Bytes)).(*ecdsa.PrivateKey)
	}()
	withCert := func(o certOpts) func(*Document) {
		return func(d *Document) { d.TLS.Cert = issue(m.caCert, m.caKey, ss1Key.Public(), o) }
	}
	rsaSmall := must(rsa.GenerateKey(rand.Reader, 1024))
	encrypted, _ := ssh.MarshalPrivateKeyWithPassphrase(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)), "", []byte("pw"))
	set := func(f func(*Document)) func(*Document) { return f }
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				panic("test text lacks " + old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}

	return []badCase{
		// required fields and identity
		{name: "missing version", edit: set(func(d *Document) { d.Version = "" }), field: "key version"},
		{name: "wrong version", edit: set(func(d *Document) { d.Version = "xroad-appliance/v2" }), field: "key version"},
		{name: "missing cluster", edit: set(func(d *Document) { d.Cluster = "" }), field: "key cluster"},
		{name: "cluster with slash", edit: set(func(d *Document) { d.Cluster = "a/../b" }), field: "key cluster"},
		{name: "missing role", edit: set(func(d *Document) { d.Role = "" }), field: "key role"},
		{name: "unknown role", edit: set(func(d *Document) { d.Role = "master" }), field: "key role"},
		{name: "missing node", edit: set(func(d *Document) { d.Node = "" }), field: "key node"},
		{name: "node SQL injection", base: sec, edit: set(func(d *Document) { d.Node = `a"; DROP ROLE x; --` }), field: "key node"},
		{name: "node newline", base: sec, edit: set(func(d *Document) { d.Node = "ss2\nss3" }), field: "key node"},
		{name: "node uppercase", base: sec, edit: set(func(d *Document) { d.Node = "SS2" }), field: "key node"},
		{name: "node space", base: sec, edit: set(func(d *Document) { d.Node = "ss 2" }), field: "key node"},
		{name: "node dotdot", base: sec, edit: set(func(d *Document) { d.Node = "../ss2" }), field: "key node"},
		{name: "node quote", base: sec, edit: set(func(d *Document) { d.Node = "ss'2" }), field: "key node"},
		{name: "node too long", base: sec, edit: set(func(d *Document) { d.Node = "s" + strings.Repeat("x", 63) }), field: "key node"},
		{name: "node starts with digit", base: sec, edit: set(func(d *Document) { d.Node = "2ss" }), field: "key node"},
		{name: "node reserved postgres", base: sec, edit: set(func(d *Document) { d.Node = "postgres" }), field: "key node"},
		{name: "missing primary name", base: sec, edit: set(func(d *Document) { d.Primary.Name = "" }), field: "key primary.name"},
		{name: "primary node is not primary.name", edit: set(func(d *Document) { d.Primary.Name = "ss9" }), field: "key node"},
		{name: "secondary node is primary.name", base: sec, edit: set(func(d *Document) { d.Node = "ss1" }), field: "key node"},

		// primary.address: goes into a systemd Environment= line and a conninfo
		{name: "missing primary address", base: sec, edit: set(func(d *Document) { d.Primary.Address = "" }), field: "key primary.address"},
		{name: "address newline", base: sec, edit: set(func(d *Document) { d.Primary.Address = "10.0.0.1\nEnvironment=PGSSLMODE=disable" }), field: "key primary.address"},
		{name: "address quote", base: sec, edit: set(func(d *Document) { d.Primary.Address = `ss1" sslmode=disable "` }), field: "key primary.address"},
		{name: "address space", base: sec, edit: set(func(d *Document) { d.Primary.Address = "ss1 sslmode=disable" }), field: "key primary.address"},
		{name: "address command substitution", base: sec, edit: set(func(d *Document) { d.Primary.Address = "$(reboot)" }), field: "key primary.address"},
		{name: "address percent", base: sec, edit: set(func(d *Document) { d.Primary.Address = "ss1%0a" }), field: "key primary.address"},
		{name: "address zone", base: sec, edit: set(func(d *Document) { d.Primary.Address = "fe80::1%eth0" }), field: "key primary.address"},
		{name: "address backslash semicolon", base: sec, edit: set(func(d *Document) { d.Primary.Address = `ss1\;ls` }), field: "key primary.address"},
		{name: "address bad IP", base: sec, edit: set(func(d *Document) { d.Primary.Address = "999.1.1.1" }), field: "key primary.address"},
		{name: "address unspecified", base: sec, edit: set(func(d *Document) { d.Primary.Address = "0.0.0.0" }), field: "key primary.address"},
		{name: "address IPv6", base: sec, edit: set(func(d *Document) { d.Primary.Address = "fd00:10:20::11" }), field: "key primary.address"},
		{name: "address loopback", base: sec, edit: set(func(d *Document) { d.Primary.Address = "127.0.0.1" }), field: "key primary.address"},
		{name: "address localhost", base: sec, edit: set(func(d *Document) { d.Primary.Address = "localhost" }), field: "key primary.address"},
		{name: "address broadcast", base: sec, edit: set(func(d *Document) { d.Primary.Address = "255.255.255.255" }), field: "key primary.address"},
		{name: "more secondaries than a cluster's walsenders serve", edit: set(func(d *Document) {
			for i := len(d.Secondaries); i <= MaxSecondaries; i++ {
				d.Secondaries = append(d.Secondaries, Member{Name: fmt.Sprintf("ss%d", i+2), Address: fmt.Sprintf("10.20.1.%d", i)})
			}
		}), field: "key secondaries: 21 listed"},
		{name: "secondary at the primary's address", edit: set(func(d *Document) { d.Secondaries[0].Address = strings.ToUpper(d.Primary.Address) + "." }), field: "key secondaries[0].address"},
		{name: "address too long", base: sec, edit: set(func(d *Document) { d.Primary.Address = strings.Repeat("a.", 127) + "aa" }), field: "key primary.address"},

		// primary.hostKey
		{name: "secondary without primary hostKey", base: sec, edit: set(func(d *Document) { d.Primary.HostKey = "" }), field: "key primary.hostKey"},
		{name: "primary hostKey RSA", base: sec, edit: set(func(d *Document) { d.Primary.HostKey = rsaSSH().pub }), field: "key primary.hostKey"},
		{name: "primary hostKey DSA", base: sec, edit: set(func(d *Document) { d.Primary.HostKey = dsaSSH().pub }), field: "key primary.hostKey"},
		{name: "primary hostKey garbage", base: sec, edit: set(func(d *Document) { d.Primary.HostKey = "ssh-ed25519 AAAAnotbase64" }), field: "key primary.hostKey"},
		{name: "primary hostKey two lines", base: sec, edit: set(func(d *Document) { d.Primary.HostKey += "\n" + m.userKeys["ss3"].pub }), field: "key primary.hostKey"},
		{name: "primary hostKey does not match ssh.hostKey", edit: set(func(d *Document) { d.Primary.HostKey = m.spare.pub }), field: "key primary.hostKey"},

		// secondaries
		{name: "primary without secondaries", edit: set(func(d *Document) { d.Secondaries = nil }), field: "key secondaries"},
		{name: "secondary's list without itself", base: sec, edit: set(func(d *Document) { d.Secondaries = []Member{{Name: "ss3", SSHPublicKey: m.userKeys["ss3"].pub}} }), field: "key secondaries"},
		{name: "secondary name missing", edit: set(func(d *Document) { d.Secondaries[0].Name = "" }), field: "key secondaries[0].name"},
		{name: "secondary name injection", edit: set(func(d *Document) { d.Secondaries[1].Name = `x"; DROP ROLE postgres; --` }), field: "key secondaries[1].name"},
		{name: "secondary named all", edit: set(func(d *Document) { d.Secondaries[1].Name = "all" }), field: "key secondaries[1].name"},
		{name: "duplicate secondary names", edit: set(func(d *Document) { d.Secondaries[1].Name = "ss2" }), field: "key secondaries[1].name"},
		{name: "secondary named like primary", edit: set(func(d *Document) { d.Secondaries[0].Name = "ss1" }), field: "key secondaries[0].name"},
		{name: "secondary address newline", edit: set(func(d *Document) { d.Secondaries[0].Address = "ss2\nx" }), field: "key secondaries[0].address"},
		{name: "secondary key missing", edit: set(func(d *Document) { d.Secondaries[1].SSHPublicKey = "" }), field: "key secondaries[1].sshPublicKey"},
		{name: "secondary key RSA", edit: set(func(d *Document) { d.Secondaries[1].SSHPublicKey = rsaSSH().pub }), field: "key secondaries[1].sshPublicKey"},
		{name: "secondary key DSA", edit: set(func(d *Document) { d.Secondaries[0].SSHPublicKey = dsaSSH().pub }), field: "key secondaries[0].sshPublicKey"},
		{name: "secondary key with options", edit: set(func(d *Document) {
			d.Secondaries[0].SSHPublicKey = `command="/bin/sh",no-pty ` + d.Secondaries[0].SSHPublicKey
		}), field: "key secondaries[0].sshPublicKey"},
		{name: "secondary key from= option", edit: set(func(d *Document) {
			d.Secondaries[1].SSHPublicKey = `from="*" ` + d.Secondaries[1].SSHPublicKey
		}), field: "key secondaries[1].sshPublicKey"},
		{name: "duplicate secondary keys", edit: set(func(d *Document) { d.Secondaries[1].SSHPublicKey = d.Secondaries[0].SSHPublicKey }), field: "key secondaries[1].sshPublicKey"},
		{name: "secondary key is host key", edit: set(func(d *Document) { d.Secondaries[1].SSHPublicKey = m.hostKey.pub }), field: "key secondaries[1].sshPublicKey"},

		// ssh
		{name: "primary without ssh hostKey", edit: set(func(d *Document) { d.SSH.HostKey = "" }), field: "key ssh.hostKey"},
		{name: "primary user key without public half", edit: set(func(d *Document) { d.SSH.PrivateKey = m.userKeys["ss2"].priv }), field: "key ssh.publicKey"},
		{name: "primary sshPublicKey not its user key", edit: set(func(d *Document) {
			d.SSH.PrivateKey, d.SSH.PublicKey, d.Primary.SSHPublicKey = m.userKeys["ss2"].priv, m.userKeys["ss2"].pub, m.spare.pub
		}), field: "key primary.sshPublicKey"},
		{name: "secondary hostKey without the list", base: sec, edit: set(func(d *Document) { d.SSH.HostKey = m.spare.priv }), field: "key ssh.hostKey"},
		{name: "secondary hostKey is the primary's", base: sec, edit: set(func(d *Document) {
			d.SSH.HostKey = m.hostKey.priv
			d.Secondaries = []Member{{Name: "ss2", SSHPublicKey: m.userKeys["ss2"].pub, HostKey: m.hostKey.pub}}
		}), field: "key ssh.hostKey"},
		{name: "secondary hostKey not in its list entry", base: sec, edit: set(func(d *Document) {
			d.SSH.HostKey = m.spare.priv
			d.Secondaries = []Member{{Name: "ss2", SSHPublicKey: m.userKeys["ss2"].pub, HostKey: m.userKeys["ss3"].pub}}
		}), field: "key secondaries[0].hostKey"},
		{name: "secondary's list entry with another user key", base: sec, edit: set(func(d *Document) {
			d.Secondaries = []Member{{Name: "ss2", SSHPublicKey: m.userKeys["ss3"].pub}}
		}), field: "key secondaries[0].sshPublicKey"},
		{name: "duplicate member host keys", edit: set(func(d *Document) {
			d.Secondaries[0].HostKey, d.Secondaries[1].HostKey = m.spare.pub, m.spare.pub
		}), field: "key secondaries[1].hostKey"},
		{name: "primary ssh hostKey RSA", edit: set(func(d *Document) { d.SSH.HostKey, d.Primary.HostKey = rsaSSH().priv, "" }), field: "key ssh.hostKey"},
		{name: "primary ssh hostKey DSA", edit: set(func(d *Document) { d.SSH.HostKey, d.Primary.HostKey = dsaSSH().priv, "" }), field: "key ssh.hostKey"},
		{name: "primary ssh hostKey with passphrase", edit: set(func(d *Document) { d.SSH.HostKey = string(pem.EncodeToMemory(encrypted)) }), field: "key ssh.hostKey"},
		{name: "primary ssh hostKey garbage", edit: set(func(d *Document) {
			d.SSH.HostKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
		}), field: "key ssh.hostKey"},
		{name: "secondary with ssh hostKey", base: sec, edit: set(func(d *Document) { d.SSH.HostKey = m.hostKey.priv }), field: "key ssh.hostKey"},
		{name: "secondary without ssh privateKey", base: sec, edit: set(func(d *Document) { d.SSH.PrivateKey = "" }), field: "key ssh.privateKey"},
		{name: "secondary without ssh publicKey", base: sec, edit: set(func(d *Document) { d.SSH.PublicKey = "" }), field: "key ssh.publicKey"},
		{name: "secondary ssh pair mismatch", base: sec, edit: set(func(d *Document) { d.SSH.PublicKey = m.userKeys["ss3"].pub }), field: "key ssh.publicKey"},
		{name: "secondary ssh RSA pair", base: sec, edit: set(func(d *Document) { d.SSH.PrivateKey, d.SSH.PublicKey = rsaSSH().priv, rsaSSH().pub }), field: "key ssh.privateKey"},

		// serverconfPassword
		{name: "missing password", edit: set(func(d *Document) { d.ServerconfPassword = "" }), field: "key serverconfPassword"},
		{name: "short password", edit: set(func(d *Document) { d.ServerconfPassword = "short-pw1" }), field: "key serverconfPassword"},
		{name: "tab in password", edit: set(func(d *Document) { d.ServerconfPassword = "Sup3r-S3cret\tPa55word" }), field: "key serverconfPassword"},
		{name: "newline in password", edit: set(func(d *Document) { d.ServerconfPassword = "Sup3r-S3cret\nPa55word" }), field: "key serverconfPassword"},
		{name: "NUL in password", edit: set(func(d *Document) { d.ServerconfPassword = "Sup3r-S3cret\x00Pa55word" }), field: "key serverconfPassword"},
		{name: "non-ASCII password", edit: set(func(d *Document) { d.ServerconfPassword = "Süp3r-S3cret-Pa55word" }), field: "key serverconfPassword"},
		{name: "huge password", edit: set(func(d *Document) { d.ServerconfPassword = strings.Repeat("Ab1!", 70) }), field: "key serverconfPassword"},
		{name: "password with leading space", edit: set(func(d *Document) { d.ServerconfPassword = " Sup3r-S3cret-Pa55word" }), field: "key serverconfPassword"},

		// tls
		{name: "missing tls ca", edit: set(func(d *Document) { d.TLS.CA = "" }), field: "key tls.ca"},
		{name: "missing tls cert", edit: set(func(d *Document) { d.TLS.Cert = "" }), field: "key tls.cert"},
		{name: "missing tls key", edit: set(func(d *Document) { d.TLS.Key = "" }), field: "key tls.key"},
		{name: "bad PEM", edit: set(func(d *Document) { d.TLS.Cert = "not a certificate" }), field: "key tls.cert"},
		{name: "PEM with garbage body", edit: set(func(d *Document) {
			d.TLS.Cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}), field: "key tls.cert"},
		{name: "text after PEM", edit: set(func(d *Document) { d.TLS.Cert += "trailing text\n" }), field: "key tls.cert"},
		{name: "two certs in cert", edit: set(func(d *Document) { d.TLS.Cert += m.tls["ss2"].cert }), field: "key tls.cert"},
		{name: "two certs in ca", edit: set(func(d *Document) { d.TLS.CA += m.caPEM }), field: "key tls.ca"},
		{name: "key block in cert", edit: set(func(d *Document) { d.TLS.Cert = m.tls["ss1"].key }), field: "key tls.cert"},
		{name: "ca is not a CA", edit: set(func(d *Document) { d.TLS.CA = m.tls["ss2"].cert }), field: "key tls.ca"},
		{name: "cert CN not node", edit: set(func(d *Document) { d.TLS.Cert, d.TLS.Key = m.tls["ss2"].cert, m.tls["ss2"].key }), field: "key tls.cert"},
		{name: "cert with two CNs", edit: withCert(certOpts{cn: "ss1", extraCN: "ss2"}), field: "key tls.cert: subject must have exactly one CN"},
		{name: "cert not signed by ca", edit: set(func(d *Document) {
			d.TLS.Cert = issue(otherCA, otherCAKey, ss1Key.Public(), certOpts{cn: "ss1"})
		}), field: "key tls.cert"},
		{name: "expired cert", edit: withCert(certOpts{cn: "ss1", notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}), field: "key tls.cert"},
		{name: "cert not yet valid", edit: withCert(certOpts{cn: "ss1", notBefore: time.Now().Add(time.Hour)}), field: "key tls.cert"},
		{name: "cert is a CA", edit: withCert(certOpts{cn: "ss1", isCA: true}), field: "key tls.cert"},
		{name: "cert server auth only", edit: withCert(certOpts{cn: "ss1", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), field: "key tls.cert"},
		{name: "cert is the CA cert", edit: set(func(d *Document) { d.TLS.Cert = m.caPEM }), field: "key tls.cert"},
		{name: "cert uses the CA key", edit: set(func(d *Document) {
			d.TLS.Cert = issue(m.caCert, m.caKey, m.caKey.Public(), certOpts{cn: "ss1"})
			d.TLS.Key = pkcs8PEM(m.caKey)
		}), field: "key tls.cert"},
		{name: "key not matching cert", edit: set(func(d *Document) { d.TLS.Key = pkcs8PEM(otherKey) }), field: "key tls.key"},
		{name: "key garbage", edit: set(func(d *Document) { d.TLS.Key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }), field: "key tls.key"},
		{name: "key not PEM", edit: set(func(d *Document) { d.TLS.Key = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" }), field: "key tls.key"},
		{name: "key encrypted", edit: set(func(d *Document) {
			d.TLS.Key = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
		}), field: "key tls.key"},
		{name: "RSA 1024 key", edit: set(func(d *Document) {
			d.TLS.Cert = issue(m.caCert, m.caKey, rsaSmall.Public(), certOpts{cn: "ss1"})
			d.TLS.Key = pkcs8PEM(rsaSmall)
		}), field: "key tls.key"},

		// options
		{name: "health port 0", edit: set(func(d *Document) { d.Options.HealthCheckPort = 0 }), field: "key options.healthCheckPort"},
		{name: "health port 70000", edit: set(func(d *Document) { d.Options.HealthCheckPort = 70000 }), field: "key options.healthCheckPort"},
		{name: "health port 5433", edit: set(func(d *Document) { d.Options.HealthCheckPort = 5433 }), field: "key options.healthCheckPort"},
		{name: "health port 22", edit: set(func(d *Document) { d.Options.HealthCheckPort = 22 }), field: "key options.healthCheckPort"},
		{name: "health interface name", edit: set(func(d *Document) { d.Options.HealthCheckInterface = "eth0" }), field: "key options.healthCheckInterface"},
		{name: "health interface empty", edit: set(func(d *Document) { d.Options.HealthCheckInterface = "" }), field: "key options.healthCheckInterface"},

		// join
		{name: "join on a secondary", base: sec, edit: set(func(d *Document) { d.Join = joinPrimaryDoc(t).Join }), field: "key join: only on the primary"},
		{name: "join port 0", base: jp, edit: set(func(d *Document) { d.Join.Port = 0 }), field: "key join.port: must be 1-65535"},
		{name: "join port 70000", base: jp, edit: set(func(d *Document) { d.Join.Port = 70000 }), field: "key join.port"},
		{name: "join port reserved", base: jp, edit: set(func(d *Document) { d.Join.Port = 5433 }), field: "key join.port: port 5433 is used by"},
		{name: "join port is the health check's", base: jp, edit: set(func(d *Document) { d.Join.Port = d.Options.HealthCheckPort }), field: "key join.port: must differ from options.healthCheckPort"},
		{name: "join caKey missing", base: jp, edit: set(func(d *Document) { d.Join.CAKey = "" }), field: "key join.caKey: required"},
		{name: "join caKey of another CA", base: jp, edit: set(func(d *Document) { d.Join.CAKey = pkcs8PEM(otherCAKey) }), field: "key join.caKey: is not the private key of tls.ca"},
		{name: "join caKey is the node's key", base: jp, edit: set(func(d *Document) { d.Join.CAKey = d.TLS.Key }), field: "key join.caKey: is not the private key of tls.ca"},
		{name: "join caKey is a certificate", base: jp, edit: set(func(d *Document) { d.Join.CAKey = m.caPEM }), field: "key join.caKey"},
		{name: "join caKey garbage", base: jp, edit: set(func(d *Document) {
			d.Join.CAKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}), field: "key join.caKey"},
		{name: "join caKey encrypted", base: jp, edit: set(func(d *Document) {
			d.Join.CAKey = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
		}), field: "key join.caKey: is encrypted"},
		{name: "join token malformed", base: jp, edit: set(func(d *Document) { d.Join.Tokens[0].Token = testPassword }), field: "key join.tokens[0].token: not a join token"},
		{name: "join token uppercase", base: jp, edit: set(func(d *Document) { d.Join.Tokens[0].Token = strings.ToUpper(testToken) }), field: "key join.tokens[0].token: not a join token"},
		{name: "join token missing", base: jp, edit: set(func(d *Document) { d.Join.Tokens[0].Token = "" }), field: "key join.tokens[0].token: required"},
		{name: "join token IDs repeat", base: jp, edit: set(func(d *Document) {
			d.Join.Tokens = append(d.Join.Tokens, JoinToken{Token: "k7x2qa.0000000000000000", Expires: testExpiry})
		}), field: "key join.tokens[1].token: has the ID of join.tokens[0].token"},
		{name: "join token without expiry", base: jp, edit: set(func(d *Document) { d.Join.Tokens[0].Expires = time.Time{} }), field: "key join.tokens[0].expires: required"},
		{name: "join token uses negative", base: jp, edit: set(func(d *Document) { d.Join.Tokens[0].Uses = -1 }), field: "key join.tokens[0].uses"},
		{name: "join expires not a time", base: jp, text: replace("expires: 2031-12-06T08:00:00Z", "expires: '"+testPassword+"'"), field: "key join.tokens[0].expires: line"},
		{name: "join expires a list", base: jp, text: replace("expires: 2031-12-06T08:00:00Z", "expires: [2031-12-06T08:00:00Z]"), field: "key join.tokens[0].expires: line"},
		{name: "join tokens a mapping", base: jp, text: replace("tokens:\n", "tokens: {a: b}\n  xtokens:\n"), field: "key join.tokens: line"},
		{name: "unknown join key", base: jp, text: replace("\njoin:\n", "\njoin:\n  "+testPassword+": x\n"), field: "unknown key under join"},
		{name: "join token as a key", base: jp, text: replace("\njoin:\n", "\njoin:\n  "+testToken+": x\n"), field: "unknown key under join"},
		{name: "primary without secondaries or join", base: jp, edit: set(func(d *Document) { d.Join = nil }), field: "key secondaries: required on the primary"},

		// YAML level
		{name: "unknown top-level key", text: func(s string) string { return s + "rolee: primary\n" }, field: "unknown key at the top level"},
		{name: "unknown nested key", text: replace("\ntls:\n", "\ntls:\n  crt: x\n"), field: "unknown key under tls"},
		{name: "unknown options key", text: replace("options:\n", "options:\n  healthcheckport: 1\n"), field: "unknown key under options (did you mean healthCheckPort?)"},
		{name: "unknown secondary key", text: replace("  - name: ss3\n", "  - name: ss3\n    sshKey: x\n"), field: "unknown key under secondaries[1]"},
		{name: "role is a list", text: replace("role: primary", "role: [a]"), field: "key role: line 3: must be a string"},
		{name: "health port is a string", text: replace("healthCheckPort: 5588", `healthCheckPort: "x"`), field: "must be an integer"},
		{name: "health port is a float", text: replace("healthCheckPort: 5588", `healthCheckPort: 5588.5`), field: "key options.healthCheckPort"},
		{name: "health port explicit 0", text: replace("healthCheckPort: 5588", `healthCheckPort: 0`), field: "key options.healthCheckPort"},
		{name: "pooled is yes", text: replace("pooledConnections: false", "pooledConnections: yes"), field: "key options.pooledConnections"},
		{name: "tls is a string", text: func(s string) string { return "tls: x\n" + strings.Replace(s, "\ntls:", "\nxtls:", 1) }, field: "key tls: line 1: must be a mapping"},
		{name: "secondaries is a mapping", text: replace("secondaries:\n", "secondaries: {a: b}\nxsecondaries:\n"), field: "must be a list"},
		{name: "duplicate role key", text: func(s string) string { return s + "role: secondary\n" }, field: "duplicate key"},
		{name: "alias", text: replace("node: ss1", "node: &n ss1\nxnode: *n"), field: "key node"},
		{name: "binary tag", text: replace("serverconfPassword: ", "serverconfPassword: !!binary "), field: "key serverconfPassword"},
		{name: "custom tag", text: replace("cluster: ss-cluster", "cluster: !env ss-cluster"), field: "key cluster"},
		{name: "two YAML documents", text: func(s string) string { return s + "---\nrole: secondary\n" }, field: "second YAML document"},
		{name: "empty second document", text: func(s string) string { return s + "---\n" }, field: "second YAML document"},
		{name: "not a mapping", text: func(string) string { return "- version\n- role\n" }, field: "must be a mapping"},
		{name: "empty", text: func(string) string { return "" }, field: "empty"},
		{name: "syntax error", text: func(s string) string { return s + "tls: [\n" }, field: "invalid YAML"},
		{name: "huge document", text: func(s string) string { return s + "# " + strings.Repeat("x", MaxSize) + "\n" }, field: "larger than"},
	}
}

func TestParseRejects(t *testing.T) {
	m := material(t)
	cases := badCases(t)
	if len(cases) < 30 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base
			if base == nil {
				base = primaryDoc
			}
			d := base(t)
			if tc.edit != nil {
				tc.edit(d)
			}
			text := marshal(t, d)
			if tc.text != nil {
				text = tc.text(text)
			}
			got, err := Parse([]byte(text))
			if err == nil {
				t.Fatalf("accepted: %v", got)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %q:\n%v", tc.field, err)
			}
			assertNoSecrets(t, err.Error(), m.secrets()...)
			// A programmatically built document fails Validate the same way.
			if tc.text == nil {
				if err := d.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
					t.Errorf("Validate: %v", err)
				}
			}
		})
	}
}

func TestValidationErrorFields(t *testing.T) {
	d := primaryDoc(t)
	d.Node, d.Options.HealthCheckPort = "BAD", 0
	err := d.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal("not a ValidationError")
	}
	var fields []string
	for _, f := range ve.Fields {
		fields = append(fields, f.Field)
	}
	for _, want := range []string{"node", "options.healthCheckPort"} {
		if !strings.Contains(strings.Join(fields, " "), want) {
			t.Errorf("fields %v lack %s", fields, want)
		}
	}
}

// TestSecretsNeverInErrors puts secret values where they do not belong: type
// errors, unknown keys, malformed keys. No fragment may come back.
func TestSecretsNeverInErrors(t *testing.T) {
	m := material(t)
	text := marshal(t, primaryDoc(t))
	keyBody := strings.Split(m.tls["ss1"].key, "\n")[1] // one base64 line of the key
	hostile := []string{
		strings.Replace(text, "healthCheckPort: 5588", "healthCheckPort: "+testPassword, 1),
		strings.Replace(text, "pooledConnections: false", "pooledConnections: "+keyBody, 1),
		strings.Replace(text, "role: primary", "role: '"+testPassword+"'", 1),
		strings.Replace(text, "node: ss1", "node: '"+testPassword+"'", 1),
		strings.Replace(text, "version: ", "version: "+keyBody+" ", 1),
		text + "'" + testPassword + "': 1\n",
		text + keyBody + ": 1\n",
		strings.Replace(text, "serverconfPassword: ", "serverconfPassword: ["+testPassword+"] #", 1),
		strings.Replace(text, "serverconfPassword: ", "serverconfPassword: \""+testPassword+"\n", 1), // unterminated
		strings.Replace(text, "serverconfPassword: ", "serverconfPassword: {"+testPassword+": x} #", 1),
		// a key that is almost right: the parser must not echo it
		strings.Replace(text, keyBody, keyBody[:10]+"!"+keyBody[11:], 1),
		strings.Replace(text, "-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", 1),
	}
	for i, h := range hostile {
		_, err := Parse([]byte(h))
		if err == nil {
			t.Errorf("hostile document %d accepted", i)
			continue
		}
		assertNoSecrets(t, err.Error(), append(m.secrets(), keyBody)...)
	}
}

func TestSanitizeYAMLError(t *testing.T) {
	var v struct{ A int }
	err := yaml.Unmarshal([]byte("a: Sup3rS3cretValue"), &v)
	if err == nil || !strings.Contains(err.Error(), "Sup3rS3") {
		t.Fatalf("yaml no longer quotes values (%v); the sanitiser may be moot", err)
	}
	if got := inputfile.SanitizeYAMLError(err); strings.Contains(got, "Sup3r") {
		t.Errorf("sanitised error still quotes the value: %s", got)
	}
}

// assertNoSecrets fails when msg contains a secret or any 12-byte piece of
// one (the base64 body of a key, a slice of the password). Pieces that are
// public anyway are skipped: a private key file embeds its public key, which
// the document carries in the clear.
func assertNoSecrets(t testing.TB, msg string, secrets ...string) {
	t.Helper()
	public := publicText(t)
	for _, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "-----") {
				continue // PEM armour is not secret
			}
			for i := 0; i+12 <= len(line); i++ {
				w := line[i : i+12]
				if strings.Contains(msg, w) && !strings.Contains(public, w) {
					t.Fatalf("leaks a secret fragment %q:\n%s", w, msg)
				}
			}
		}
	}
}

// publicText is everything in the test documents that is not secret.
func publicText(t testing.TB) string {
	p, s := primaryDoc(t).Redacted(), secondaryDoc(t).Redacted()
	return marshal(t, &p) + marshal(t, &s) + material(t).spare.pub
}

func TestRoundTripEmptySecondaries(t *testing.T) {
	d := secondaryDoc(t)
	text := marshal(t, d) + "secondaries: []\n"
	got, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse([]byte(marshal(t, got)))
	if err != nil || !reflect.DeepEqual(got, again) {
		t.Fatalf("round trip: %v", err)
	}
}

// TestParseValidVariants accepts the other forms a real operator produces.
func TestParseValidVariants(t *testing.T) {
	m := material(t)
	rsaKey := rsaOnce()
	ecKey := must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	sec1 := "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n" +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: must(x509.MarshalECPrivateKey(ecKey))}))
	p384 := sshKeyPair(must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)))
	p521 := sshKeyPair(must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)))
	cases := map[string]func(*Document){
		"RSA PKCS#1 TLS key (openssl req default)": func(d *Document) {
			d.TLS.Cert = issue(m.caCert, m.caKey, rsaKey.Public(), certOpts{cn: d.Node})
			d.TLS.Key = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
		},
		"SEC1 EC key after EC PARAMETERS": func(d *Document) {
			d.TLS.Cert = issue(m.caCert, m.caKey, ecKey.Public(), certOpts{cn: d.Node})
			d.TLS.Key = sec1
		},
		"cert with server and client auth": func(d *Document) {
			b, _ := pem.Decode([]byte(d.TLS.Key))
			key := must(x509.ParsePKCS8PrivateKey(b.Bytes)).(*ecdsa.PrivateKey)
			d.TLS.Cert = issue(m.caCert, m.caKey, key.Public(), certOpts{cn: d.Node,
				eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
		},
		"ecdsa P-384 host key":                 func(d *Document) { d.SSH.HostKey, d.Primary.HostKey = p384.priv, p384.pub },
		"ecdsa P-521 host key":                 func(d *Document) { d.SSH.HostKey, d.Primary.HostKey = p521.priv, p521.pub },
		"host key pin optional on the primary": func(d *Document) { d.Primary.HostKey = "" },
		"host name address":                    func(d *Document) { d.Primary.Address = "ss1.cluster.example" },
		"key comment with spaces":              func(d *Document) { d.Secondaries[0].SSHPublicKey += " from the ss2 image" },
		"health check elsewhere":               func(d *Document) { d.Options = Options{HealthCheckPort: 8888, HealthCheckInterface: "10.20.0.11"} },
		"longest name": func(d *Document) {
			d.Secondaries[0].Name = "s" + strings.Repeat("-", 61) + "2"
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			d := primaryDoc(t)
			edit(d)
			got, err := Parse([]byte(marshal(t, d)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Error("round trip changed the document")
			}
		})
	}
}

// TestFrozenSkipsValidityPeriod: an expired frozen copy stays readable for
// day-2 tools, but its signatures are still checked.
func TestFrozenSkipsValidityPeriod(t *testing.T) {
	m := material(t)
	d := primaryDoc(t)
	b, _ := pem.Decode([]byte(d.TLS.Key))
	key := must(x509.ParsePKCS8PrivateKey(b.Bytes)).(*ecdsa.PrivateKey)
	d.TLS.Cert = issue(m.caCert, m.caKey, key.Public(), certOpts{cn: "ss1", notBefore: time.Now().Add(-2 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	text := []byte(marshal(t, d))
	if _, err := Parse(text); err == nil {
		t.Fatal("expired certificate accepted by Parse")
	}
	if _, err := parse(text, validateOpts{skipValidityPeriod: true}); err != nil {
		t.Fatalf("frozen parse: %v", err)
	}
	otherKey := otherSigner()
	otherCA, _ := newCA(otherKey, "CA") // same name, other key
	d.TLS.Cert = issue(otherCA, otherKey, key.Public(), certOpts{cn: "ss1"})
	if _, err := parse([]byte(marshal(t, d)), validateOpts{skipValidityPeriod: true}); err == nil {
		t.Fatal("frozen parse accepted a certificate not signed by the CA")
	}
}

func otherSigner() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) }
