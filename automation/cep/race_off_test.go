//go:build !race

package cep_test

const raceEnabled = false
