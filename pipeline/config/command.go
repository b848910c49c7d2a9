package config

import "slices"

// Command names a midata command that reads configuration. Each Key lists
// the commands that use it; a command registers, loads, validates and
// prints only those keys.
type Command string

// The commands of cmd/midata that read configuration.
const (
	CommandDev      Command = "dev"
	CommandServe    Command = "serve"
	CommandExport   Command = "export"
	CommandSeed     Command = "seed"
	CommandRuns     Command = "runs"
	CommandSchedule Command = "schedule"
	CommandBench    Command = "bench"
	CommandKeys     Command = "keys"
	CommandAudit    Command = "audit"
	CommandSweep    Command = "sweep"
)

// Commands returns every command, in the order the docs list them.
func Commands() []Command {
	return []Command{CommandDev, CommandServe, CommandExport, CommandSeed, CommandRuns, CommandSchedule, CommandAudit, CommandSweep, CommandBench, CommandKeys}
}

// KeysOf returns the keys cmd uses, in the order of Keys.
func KeysOf(cmd Command) []Key {
	var out []Key
	for _, k := range Keys() {
		if k.UsedBy(cmd) {
			out = append(out, k)
		}
	}
	return out
}

// UsedBy says whether cmd reads the key.
func (k Key) UsedBy(cmd Command) bool { return slices.Contains(k.Commands, cmd) }

// RequiredBy says whether cmd refuses to start while the key is empty.
func (k Key) RequiredBy(cmd Command) bool { return slices.Contains(k.Required, cmd) }

// Renamed returns the key whose flag was once called old (without dashes),
// as in `midata export --brokers`: those names are refused with a pointer
// to the key's one flag, never taken silently.
func Renamed(old string) (Key, bool) {
	for _, k := range Keys() {
		if slices.Contains(k.Renamed, old) {
			return k, true
		}
	}
	return Key{}, false
}
