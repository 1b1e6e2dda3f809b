package disk

import "xroad-appliance/profiles"

// testBoot are the debian-12 profile's disk facts, the disk the tests make
// from the Debian test base.
var testBoot = bootOf("debian-12")

// bootOf is a profile's disk facts as the builder passes them.
func bootOf(profile string) Boot {
	f, err := profiles.Resolve(profile, "")
	if err != nil {
		panic(err)
	}
	return Boot{Kernel: f.Disk.Kernel, Initrd: f.Disk.Initrd, Bootloader: f.Disk.Bootloader, Packages: f.Disk.Packages}
}

// guestOf is a profile's guest facts for the outputs named, merged as the
// builder merges them.
func guestOf(profile string, outputs ...string) profiles.Guest {
	f, err := profiles.Resolve(profile, "")
	if err != nil {
		panic(err)
	}
	return f.Disk.GuestFor(outputs)
}
