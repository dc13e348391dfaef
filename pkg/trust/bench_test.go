package trust

import (
	"testing"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// benchCorpus returns the parseable corpus documents (raw bytes), so the
// benchmarks measure parsing too, as the engine pays it on every event.
func benchCorpus(b *testing.B) [][]byte {
	var docs [][]byte
	for name, data := range corpusFiles(b) {
		if _, bad := invalidCorpus[name]; bad {
			continue
		}
		docs = append(docs, data)
	}
	return docs
}

// benchParsed runs step on each corpus document in turn, parsed inside the
// timed loop as the engine parses it on every event.
func benchParsed(b *testing.B, step func(*policy.Document) error) {
	docs := benchCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		doc, err := policy.Parse(docs[i%len(docs)])
		if err != nil {
			b.Fatal(err)
		}
		if err := step(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyze measures parse + verdict per policy over the real corpus.
func BenchmarkAnalyze(b *testing.B) {
	benchParsed(b, func(doc *policy.Document) error {
		_, err := Analyze(doc, testZone)
		return err
	})
}

// BenchmarkRestrict measures parse + verdict + the rewritten document per policy.
func BenchmarkRestrict(b *testing.B) {
	benchParsed(b, func(doc *policy.Document) error {
		res, err := Restrict(doc, testZone)
		if err != nil {
			return err
		}
		_ = res.Policy.AppendJSON(nil)
		return nil
	})
}
