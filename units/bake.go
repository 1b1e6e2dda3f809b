package units

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"xroad-appliance/profiles"
)

// BaseUnitReader returns the content of a packaged unit of the image being
// built; nil means "use the reference copy".
type BaseUnitReader func(path string) ([]byte, error)

// Bake returns every file the appliance layer adds for a profile, sorted by path.
func Bake(f *profiles.Facts, readBase BaseUnitReader) ([]File, error) {
	facts, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("profile facts: %w", err)
	}
	files := []File{
		{Path: SyncServicePath, Mode: 0o644, Content: withHeader(serialize(SyncService()), "guide 5.2.1; MASTER is set by "+SyncPrimaryDropIn)},
		{Path: SyncTimerPath, Mode: 0o644, Content: withHeader(serialize(SyncTimer()), "guide 5.2.1")},
		{Path: LogrotatePath, Mode: 0o644, Content: Logrotate()},
		{Path: ProvisionUnitPath, Mode: 0o644, Content: withHeader(serialize(ProvisionService(f.XRoad.Services)), "first-boot provisioning")},
		{Path: PresetPath, Mode: 0o644, Content: Preset()},
		{Path: FactsFile, Mode: 0o644, Content: append([]byte("# Resolved profile facts baked into this image\n"), facts...)},
	}
	for _, s := range f.XRoad.Services {
		files = append(files, ServiceGate(s))
	}
	var base []byte
	if f.PG.Serverconf.Method == "copy-unit" {
		if readBase != nil {
			base, err = readBase(f.PG.Serverconf.BaseUnit)
		}
		if base == nil && err == nil {
			base, err = UpstreamUnit(f.PG.Serverconf.BaseUnit)
		}
		if err != nil {
			return nil, fmt.Errorf("serverconf base unit %s: %w", f.PG.Serverconf.BaseUnit, err)
		}
	}
	sc, err := ServerconfUnit(f.PG, base)
	if err != nil {
		return nil, err
	}
	if sc != nil {
		files = append(files, *sc)
	}
	sortFiles(files)
	return files, nil
}
