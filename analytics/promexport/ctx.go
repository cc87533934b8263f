package promexport

import "context"

// contextBackground is the context health checks run under during a
// scrape; the checker bounds them with its own timeout.
func contextBackground() context.Context { return context.Background() }
