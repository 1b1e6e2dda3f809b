package pg

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"xroad-appliance/provisioner/pg/pgtest"
)

// A role created with our verifier must accept a login with the password,
// and the clear-text password must never reach the server log even with
// every statement logged.
func TestVerifierLogsInOnRealPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	inst := pgtest.Start(t, pgtest.Access{HBA: HBALocal, Ident: IdentLines}, "log_statement = 'all'")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", inst.Socket, inst.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	const password = "correct-horse-battery-staple"
	for _, method := range []string{"scram-sha-256", "md5"} {
		role := "user_" + strings.ReplaceAll(method, "-", "_")
		v, err := Verifier(method, role, password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "SET password_encryption = "+Literal(method)); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE ROLE "+Ident(role)+" LOGIN PASSWORD "+Literal(v)); err != nil {
			t.Fatal(err)
		}
		if method == "md5" {
			// pg_hba says scram-sha-256; an md5 verifier can log in with md5 only.
			var stored string
			admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname=$1", role).Scan(&stored)
			if stored != v {
				t.Fatalf("stored %q", stored)
			}
			continue
		}
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres password=%s sslmode=disable", inst.Port, role, password))
		if err != nil {
			t.Fatalf("%s login: %v", method, err)
		}
		conn.Close(ctx)
		if _, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres password=wrong sslmode=disable", inst.Port, role)); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if strings.Contains(inst.ServerLog(t), password) {
		t.Fatal("the clear-text password reached the server log")
	}
}
