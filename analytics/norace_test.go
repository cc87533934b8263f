//go:build !race

package analytics_test

const raceScale = 1
