package guardrail

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// lockdownTTL bounds how long a fetched lockdown document is reused. The
// stack may publish a new default version; a warm Lambda picks it up within
// this time. The document is only needed for the inline fallback, so the
// cache mostly saves calls during a sweep.
const lockdownTTL = 5 * time.Minute

// lockdownCache holds the managed lockdown policy's default version.
type lockdownCache struct {
	mu      sync.Mutex
	arn     string
	doc     *policy.Document
	fetched time.Time
}

// lockdownDocument returns the managed lockdown policy's current document
// (GetPolicy for the default version, then GetPolicyVersion), so the inline
// fallback is exactly the document the managed policy holds and an existing
// inline copy can be compared with it.
func (r *run) lockdownDocument(ctx context.Context) (*policy.Document, error) {
	e := r.e
	c := &e.lockdownDoc
	c.mu.Lock()
	defer c.mu.Unlock()
	arn := e.cfg.LockdownPolicyARN
	if c.doc != nil && c.arn == arn && e.now().Sub(c.fetched) < lockdownTTL {
		return c.doc, nil
	}
	r.calls++
	p, err := e.client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		if isNoSuchEntity(err) {
			return nil, fmt.Errorf("get lockdown policy %s: %w: %w", arn, ErrLockdownPolicyMissing, err)
		}
		return nil, fmt.Errorf("get lockdown policy %s: %w", arn, err)
	}
	if p.Policy == nil || p.Policy.DefaultVersionId == nil {
		return nil, fmt.Errorf("get lockdown policy %s: no default version in the response", arn)
	}
	r.calls++
	v, err := e.client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		return nil, fmt.Errorf("get lockdown policy %s version %s: %w", arn, aws.ToString(p.Policy.DefaultVersionId), err)
	}
	if v.PolicyVersion == nil || v.PolicyVersion.Document == nil {
		return nil, fmt.Errorf("get lockdown policy %s version %s: no document in the response", arn, aws.ToString(p.Policy.DefaultVersionId))
	}
	// GetPolicyVersion returns the document URL-encoded (RFC 3986); Parse
	// decodes it.
	doc, err := policy.Parse([]byte(aws.ToString(v.PolicyVersion.Document)))
	if err != nil {
		return nil, fmt.Errorf("parse lockdown policy %s version %s: %w", arn, aws.ToString(p.Policy.DefaultVersionId), err)
	}
	c.arn, c.doc, c.fetched = arn, doc, e.now()
	return doc, nil
}
