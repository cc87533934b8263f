package codec

// ParseFast and ParseChecked expose Parse's two paths, so that tests can
// hold the fast one to the checked one.
var (
	ParseFast    = parseFast
	ParseChecked = parseChecked
)
