//go:build race

package summary

const raceEnabled = true
