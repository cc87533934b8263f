// Package isolationtest holds, in its tests only, the randomised
// tenant-isolation test across every place events of different tenants
// meet: dedup, durable consumers, routing groups, CEP, workflows and state
// machines, analytics windows and the audit journal. It exports nothing.
package isolationtest
