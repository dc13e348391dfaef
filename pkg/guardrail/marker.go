package guardrail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// The write marker (issue 19, defects 2 and 3): with every trust policy it
// writes, the guardrail tags the role with MarkerTagKey = "<from>
// sha256:<hash> src:<source> w:<wrote> u:<until>", where hash is the
// SHA-256 of the written document (as the engine renders it after parsing),
// source the SHA-256 of the document it was restricted from (an event's
// claim, or the document read), and [from, until) the span in which that
// intent was written (span): an event's second for a claim; for a document
// read, from the latest time the read is known to reflect (intentFloor: the
// read's time minus IAM's consistency window, rounded down, minus a second)
// to the read itself, since the read may show a write made just before it
// or a stale copy of one made long before. An event inside that span cannot
// tell which is newer (converge: relTie). GetRole returns a role's tags with its
// trust policy in one response (IAM API reference, GetRole: Role.Tags), so
// the marker costs no extra read, and the two always come from the same
// snapshot of the role.
//
// A read trust document is the guardrail's own write only when the marker's
// hash matches it: a stale tag, a tag left after the owner rewrote the
// policy, or a tag on a document it does not describe proves nothing. The
// marker only ever decides *which* document is restricted — the one read,
// the one the event claims, or what two same-second claims have in common —
// never whether to restrict: every candidate goes through trust.Restrict
// before anything is written. A forged or tampered marker may therefore
// cost a rewrite, never admit an outsider.

// MarkerTagKey is the tag key of the write marker. The lockdown policy
// denies every role but the guardrail's tagging or untagging a role with it
// (lockdown.MarkerTagKey is the same key).
const MarkerTagKey = lockdown.MarkerTagKey

// span is when an intent was written, as far as the guardrail can tell: no
// earlier than from, and before until. CloudTrail's eventTime has whole
// seconds, so an event's claim spans its second (exactly); a document read
// spans from the read's intentFloor to the read (readSpan).
type span struct{ from, until time.Time }

// exactly is the span of an intent written in the second of t.
func exactly(t time.Time) span { return span{t, t.Add(time.Second)} }

// readSpan is the span of the intent a document read at readAt shows: every
// write before its intentFloor is reflected, and nothing after the read.
func readSpan(readAt time.Time, window time.Duration) span {
	return span{intentFloor(readAt, window), readAt.Truncate(time.Second).Add(time.Second)}
}

// before reports whether s was certainly written before o.
func (s span) before(o span) bool { return !s.until.After(o.from) }

// union is the span of an intent derived from both s and o.
func (s span) union(o span) span {
	if o.from.Before(s.from) {
		s.from = o.from
	}
	if o.until.After(s.until) {
		s.until = o.until
	}
	return s
}

// marker is a parsed write marker.
type marker struct {
	at   span   // when the intent the written document derives from was written
	hash string // of the written document (docHash)
	// src is the docHash of the document the write was restricted from;
	// "" in a marker written before the source was recorded.
	src string
	// wrote is a lower bound of when the document was written (the time
	// the marker was, just before it; whole seconds); zero in a marker
	// written before it was recorded.
	wrote time.Time
}

// markerValue renders the marker of doc, restricted from the document whose
// docHash is src, derived from an intent written in at, written no earlier
// than wrote. The value uses only characters IAM accepts in tag values and
// stays within their 256 characters (IAM API reference, Tag:
// [\p{L}\p{Z}\p{N}_.:/=+\-@]*): 3×20 for the times, 2×64 for the hashes,
// 22 for the labels and spaces.
func markerValue(at span, doc *policy.Document, src string, wrote time.Time) string {
	return at.from.UTC().Format(time.RFC3339) + " sha256:" + docHash(doc) + " src:" + src +
		" w:" + wrote.UTC().Format(time.RFC3339) + " u:" + at.until.UTC().Format(time.RFC3339)
}

// parseMarker parses a marker value; ok is false for anything else. A
// marker without an end of its span (written before spans were recorded)
// spans the second of its time.
func parseMarker(v string) (m marker, ok bool) {
	ts, rest, found := strings.Cut(v, " sha256:")
	if !found {
		return marker{}, false
	}
	h, rest, _ := strings.Cut(rest, " src:")
	src, rest, hasWrote := strings.Cut(rest, " w:")
	wrote, until, hasUntil := strings.Cut(rest, " u:")
	if len(h) != sha256.Size*2 || (src != "" && len(src) != sha256.Size*2) {
		return marker{}, false
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return marker{}, false
	}
	m = marker{at: exactly(at), hash: h, src: src}
	if hasWrote {
		if m.wrote, err = time.Parse(time.RFC3339, wrote); err != nil {
			return marker{}, false
		}
	}
	if hasUntil {
		if m.at.until, err = time.Parse(time.RFC3339, until); err != nil || !m.at.until.After(at) {
			return marker{}, false
		}
	}
	return m, true
}

// docHash is the SHA-256 of the document as the engine renders it, so that
// IAM's own rendering of a written document (URL-encoded, re-indented)
// hashes the same once parsed.
func docHash(doc *policy.Document) string {
	sum := sha256.Sum256(mustJSON(doc))
	return hex.EncodeToString(sum[:])
}

// markerOf returns the marker among a role's tags, if any.
func markerOf(tags []types.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == MarkerTagKey {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// own reports whether the role's trust document, as read, is the
// guardrail's own write, and returns its marker.
func (st *roleState) own() (marker, bool) {
	m, ok := parseMarker(st.marker)
	if !ok || st.trustDoc == nil || m.hash != docHash(st.trustDoc) {
		return marker{}, false
	}
	return m, true
}

// intentFloor is the latest time that a document read at readAt is known to
// reflect: IAM's reads show every write made more than the consistency
// window before them (README "Consistency"). It is rounded down to the
// second and a second earlier still, because CloudTrail's eventTime has
// whole seconds: an owner write the read may have missed has an event time
// after it.
func intentFloor(readAt time.Time, window time.Duration) time.Time {
	return readAt.Add(-window).Truncate(time.Second).Add(-time.Second)
}

// putMarker tags the role with the marker of the trust document about to be
// written (written, as planned: the same value whose rendering is sent),
// restricted from st.trustDoc (or what st.sourceHash names). It comes
// before the trust write, as part of it (no action of its own unless it
// fails): IAM keeps a role's tags and trust policy together and GetRole
// returns both, so any state a read can return that holds the written
// document holds its marker too; in between, a read returns the old
// document with a marker that does not match it, which proves nothing
// (a re-check reading it looks again later, settle). A failed tag does not
// stop the trust write (removing outsiders comes first): the document is
// then unmarked, which later events treat as the owner's, so it costs a
// rewrite, not safety; it fails the evaluation, since a missing permission
// would otherwise go unnoticed.
func (r *run) putMarker(ctx context.Context, st *roleState, written *policy.Document, a *applied) {
	at, src := st.source, st.sourceHash
	if at.from.IsZero() {
		at = readSpan(st.readAt, r.e.window)
	}
	if src == "" {
		src = docHash(st.trustDoc)
	}
	_, err := r.e.client.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(st.name),
		Tags: []types.Tag{{Key: aws.String(MarkerTagKey), Value: aws.String(markerValue(at, written, src, r.e.now()))}}}, r.count)
	if err != nil {
		err = fmt.Errorf("mark the trust policy written to role %s: %w", st.name, r.staleIfMissing(err))
		a.act(decision.ControlTrust, "TagRole", MarkerTagKey, decision.ResultFailed, err.Error())
		r.fail(err)
	}
}

// remark writes the marker of the trust document read again, for the newer
// intent it now stands for (roleState.remark), within the write budget of
// the read like any trust write. The document is not written: a marker
// names it by hash, so if the owner has replaced it since the read, the
// new marker matches nothing and proves nothing.
func (r *run) remark(ctx context.Context, st *roleState, a *applied) {
	wctx, cancel, err := r.writeContext(ctx, st)
	if err != nil {
		a.act(decision.ControlTrust, "TagRole", MarkerTagKey, decision.ResultFailed, err.Error())
		r.fail(err)
		return
	}
	defer cancel()
	r.putMarker(wctx, st, st.trustDoc, a)
}
