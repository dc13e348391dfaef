package cost

// DefaultMeasured holds the figures measured with the real bootstraps under
// the Lambda Runtime Interface Emulator; Source gives the command.
var DefaultMeasured = Measured{
	Source: "TODO",
}
