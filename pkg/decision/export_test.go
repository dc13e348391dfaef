package decision

// EmitMetricsAt is emitMetrics with a fixed timestamp, for exact tests.
var EmitMetricsAt = emitMetrics
