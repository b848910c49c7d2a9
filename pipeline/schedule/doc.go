// Package schedule owns the cron schedules of releases and when they fire:
// the Schedule type (a cron spec, who receives what, over which period), its
// validation, the fire times it gives in its time zone, the deterministic
// Firing of each fire time, and the Scheduler loop that fires what is due
// against an injected Clock.
//
// It does not store schedules (package schedule/store keeps them on the
// compacted midata.schedules topic, as Entry values with this package's
// errors), serve them (package api), queue requests or make releases: the
// Scheduler hands each Firing to a Fire function, which `midata serve`
// wires to the request queue (pipeline/jobs).
//
// # Fire times
//
// Specs use github.com/robfig/cron/v3 syntax: 5 fields (minute hour
// day-of-month month day-of-week), 6 with a leading seconds field, an
// optional CRON_TZ=<zone> or TZ=<zone> prefix, and the descriptors @yearly,
// @monthly, @weekly, @daily, @hourly and @every <duration>. Without a prefix
// the zone is UTC, never the machine's local zone, so every instance computes
// the same instants; midata serve writes the organisation's zone into every
// schedule made without one (InZone), through the API or the config file.
//
// Fields match the wall clock of the zone, and each matching wall-clock time
// fires exactly once:
//
//   - a time skipped when the clocks go forward fires at the instant of the
//     change (several skipped times fire once, together): "0 1 * * *" in
//     Europe/London fires at 01:00Z on 2026-03-29, when 01:00 GMT becomes
//     02:00 BST;
//   - a time that happens twice when the clocks go back fires at its first
//     occurrence only: "30 1 * * *" fires at 00:30Z (01:30 BST) on
//     2026-10-25, not again at 01:30 GMT.
//
// robfig/cron itself skips the first and fires the second twice; a daily
// release would then miss a day in spring and come twice in autumn.
//
// @every <d> fires at the multiples of d since the Unix epoch (1970-01-01
// 00:00:00Z), not d after whenever an instance started, so that instances
// agree: "@every 1h" fires on every UTC hour, "@every 90m" at 00:00Z,
// 01:30Z, 03:00Z, ... of 1970-01-01 and onwards. A zone prefix does not move
// these instants; it only sets the calendar of the period.
//
// # Firings
//
// A Firing is one fire time of one schedule, with the period it releases.
// Its ID, "<schedule id>@<fire time, RFC 3339 UTC>", is the same on every
// instance, so several instances firing the same tick make one release
// downstream. Due returns at most MaxDue firings: when more fire times were
// missed (a suspended machine, a clock jump), only the latest MaxDue fire,
// and Due says that older ones were dropped.
package schedule
