//go:build race

package analytics_test

// raceScale divides the differential streams under the race detector,
// which slows them down about tenfold.
const raceScale = 2
