package syncserve

import "testing"

func TestCommand(t *testing.T) {
	ok := []string{
		"rsync --server --sender -logDtprze.iLsfxCIvu --timeout=10 . /etc/xroad/",
		"rsync --server --sender -vlogDtprze.iLsfxCIvu . /etc/xroad/",
		"rsync --server --sender -logDtprze.iLsfxCIvu --delete . /etc/xroad",
	}
	for _, c := range ok {
		if _, err := Command(c); err != nil {
			t.Errorf("%q refused: %v", c, err)
		}
	}
	bad := []string{
		"", "sh -c id", "rsync --server -logDtprze.iLsfxCIvu . /etc/xroad/",
		"rsync --server --sender -logDtpr . /etc/",
		"rsync --server --sender -logDtpr . /etc/xroad/../shadow",
		"rsync --server --sender --remove-source-files -logDtpr . /etc/xroad/",
		"rsync --server --sender -logDtpr . /etc/xroad/ ; id",
		"rsync --server --sender --rsync-path=x . /etc/xroad/",
		"scp -f /etc/xroad/db.properties",
	}
	for _, c := range bad {
		if _, err := Command(c); err == nil {
			t.Errorf("%q allowed", c)
		}
	}
}
