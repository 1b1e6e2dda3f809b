package units

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"xroad-appliance/profiles"
)

// upstream holds reference copies of the packaged PostgreSQL units that the
// copy-unit method starts from when rendering without the image at hand; the
// builder passes the image's own unit instead.
//
//go:embed upstream/*.service
var upstream embed.FS

// UpstreamUnit returns the reference copy of a packaged unit by its path.
func UpstreamUnit(unitPath string) ([]byte, error) {
	return upstream.ReadFile("upstream/" + path.Base(unitPath))
}

// ServerconfUnit renders the separate serverconf instance unit of guide
// 4.2.1.x. It returns nil for pg_createcluster platforms, where the instance
// is postgresql@V-serverconf from the packaged template. base is the packaged
// unit's content, needed by the copy-unit method.
func ServerconfUnit(pg profiles.PostgreSQL, base []byte) (*File, error) {
	sc := pg.Serverconf
	env := []*unit.UnitOption{
		opt("Service", "Environment", "PGPORT="+strconv.Itoa(sc.Port)),
		opt("Service", "Environment", "PGDATA="+sc.DataDir),
	}
	var body []byte
	switch sc.Method {
	case profiles.CreateCluster:
		return nil, nil
	case profiles.IncludeUnit:
		// The guide's .include form (4.2.1.1, 4.2.1.2); go-systemd has no
		// notion of .include, so the line precedes the serialized overrides.
		body = append([]byte(".include "+sc.BaseUnit+"\n"), serialize(env)...)
	case profiles.CopyUnit:
		opts, err := unit.DeserializeOptions(bytes.NewReader(base))
		if err != nil {
			return nil, fmt.Errorf("packaged unit %s: %w", sc.BaseUnit, err)
		}
		body = serialize(overrideEnvironment(opts, env))
	default:
		return nil, fmt.Errorf("serverconf method %q", sc.Method)
	}
	f := File{Path: sc.UnitFile, Mode: 0o644, Content: withHeader(body, "serverconf instance, "+string(sc.Method)+" of "+sc.BaseUnit)}
	return &f, nil
}

// overrideEnvironment replaces the packaged PGPORT/PGDATA (guide 4.2.1.3:
// "override the following properties") and keeps everything else in order.
func overrideEnvironment(opts, env []*unit.UnitOption) []*unit.UnitOption {
	var out []*unit.UnitOption
	inserted := false
	for _, o := range opts {
		if o.Section == "Service" && o.Name == "Environment" &&
			(strings.HasPrefix(o.Value, "PGPORT=") || strings.HasPrefix(o.Value, "PGDATA=")) {
			if !inserted {
				out = append(out, env...)
				inserted = true
			}
			continue
		}
		out = append(out, o)
	}
	if !inserted {
		// No packaged PGDATA: put ours at the end of [Service], before [Install].
		var withEnv []*unit.UnitOption
		for _, o := range out {
			if o.Section == "Install" && !inserted {
				withEnv = append(withEnv, env...)
				inserted = true
			}
			withEnv = append(withEnv, o)
		}
		if !inserted {
			withEnv = append(withEnv, env...)
		}
		out = withEnv
	}
	return out
}
