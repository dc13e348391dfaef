package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// The chaos plan: what the account's owner does (bursts of CreateRole from
// deploys, trust changes, lockdown detached) and how EventBridge delivers the
// CloudTrail events of it (late, duplicated, out of order). It depends on the
// seed alone, so two runs with one seed drive the same changes and the same
// deliveries; only the interleaving with the parallel enforcers differs.

// chaosOp is one IAM call the owner makes, which CloudTrail records as one event.
type chaosOp struct {
	Role      string `json:"role"`
	API       string `json:"api"`              // CreateRole, UpdateAssumeRolePolicy, AttachRolePolicy, DetachRolePolicy
	Trust     string `json:"trust,omitempty"`  // the trust document CreateRole/UpdateAssumeRolePolicy sets
	Policy    string `json:"policy,omitempty"` // the policy ARN AttachRolePolicy/DetachRolePolicy names
	Deploy    int    `json:"deploy"`           // the burst it belongs to
	Pause     time.Duration
	Deliver   []time.Duration `json:"deliver"` // after the call: one delay per delivery (2 when duplicated)
	Reordered bool            `json:"reordered"`
}

// chaosPlan is the whole scenario.
type chaosPlan struct {
	Seed  uint64
	Roles []string
	Ops   []chaosOp
}

// Principals the trust documents draw from: the own account, the trusted
// partner account and AWS services are inside the zone; the others are not.
const (
	chaosForeignA = "999988887777"
	chaosForeignB = "555566667777"
)

// chaosTrusts returns the trust documents the owner writes: compliant ones
// first, then ones the guardrail must restrict.
func chaosTrusts() (compliant, foreign []string) {
	doc := func(principals ...string) string {
		var sts []string
		for _, p := range principals {
			sts = append(sts, `{"Effect":"Allow","Principal":`+p+`,"Action":"sts:AssumeRole"}`)
		}
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(sts, ",") + `]}`
	}
	root := func(acct string) string { return `{"AWS":"arn:aws:iam::` + acct + `:root"}` }
	svc := func(s string) string { return `{"Service":"` + s + `"}` }
	compliant = []string{
		doc(svc("lambda.amazonaws.com")),
		doc(svc("ec2.amazonaws.com")),
		doc(root(sandbox.Account)),
		doc(root(sandbox.TrustedAccount)),
		doc(svc("lambda.amazonaws.com"), root(sandbox.Account)),
	}
	foreign = []string{
		doc(root(chaosForeignA)),
		doc(`{"AWS":"*"}`),
		doc(root(sandbox.Account), root(chaosForeignB)),
		doc(svc("lambda.amazonaws.com"), root(chaosForeignA)),
		doc(`{"AWS":["arn:aws:iam::` + sandbox.TrustedAccount + `:root","arn:aws:iam::` + chaosForeignB + `:root"]}`),
	}
	return compliant, foreign
}

// newChaosPlan draws a scenario of at least events owner calls on roles
// roles: deploys of 10 to 30 CreateRole calls each, followed by changes to
// roles of this and earlier deploys (new trust, another policy attached, the
// lockdown policy detached). Each event is delivered 20 ms to 120 ms after
// its call; dupRate of them a second time up to 4 s later, and reorderRate of
// them held back 0.5 s to 3 s so that later events overtake them.
func newChaosPlan(seed uint64, roles, events int, lockdownARN string, dupRate, reorderRate float64) chaosPlan {
	rng := rand.New(rand.NewPCG(seed, seed^0xC4A05))
	compliant, foreign := chaosTrusts()
	pickTrust := func() string {
		if rng.Float64() < 0.45 {
			return compliant[rng.IntN(len(compliant))]
		}
		return foreign[rng.IntN(len(foreign))]
	}
	p := chaosPlan{Seed: seed}
	// Split the roles into deploys.
	var deploys [][]string
	for n := 0; n < roles; {
		size := min(10+rng.IntN(21), roles-n)
		var d []string
		for range size {
			d = append(d, fmt.Sprintf("chaos-d%02d-r%03d", len(deploys), n))
			n++
		}
		deploys = append(deploys, d)
	}
	followUps := max(0, events-roles)
	var created []string
	for di, d := range deploys {
		for i, name := range d {
			pause := 2 * time.Millisecond // a deploy creates its roles back to back
			if i == 0 {
				pause = 300 * time.Millisecond
			}
			p.Ops = append(p.Ops, chaosOp{Role: name, API: "CreateRole", Trust: pickTrust(), Deploy: di, Pause: pause})
			p.Roles = append(p.Roles, name)
		}
		created = append(created, d...)
		// This deploy's share of the follow-up changes.
		n := followUps / len(deploys)
		if di < followUps%len(deploys) {
			n++
		}
		for range n {
			// Any role created so far, recent ones a little more often: a
			// deploy also changes what it just created.
			name := created[rng.IntN(len(created))]
			if rng.Float64() < 0.3 {
				name = created[len(created)-1-rng.IntN(len(d))]
			}
			op := chaosOp{Role: name, Deploy: di, Pause: time.Duration(2+rng.IntN(20)) * time.Millisecond}
			switch x := rng.Float64(); {
			case x < 0.5:
				op.API, op.Trust = "UpdateAssumeRolePolicy", pickTrust()
			case x < 0.75:
				// The owner's call is AttachRolePolicy of ReadOnlyAccess
				// instead when the lockdown is not attached at the time
				// (chaosRun.produce): detaching it would fail.
				op.API, op.Policy = "DetachRolePolicy", lockdownARN
			default:
				op.API, op.Policy = "AttachRolePolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess"
			}
			p.Ops = append(p.Ops, op)
		}
	}
	for i := range p.Ops {
		op := &p.Ops[i]
		d := time.Duration(20+rng.IntN(100)) * time.Millisecond
		if rng.Float64() < reorderRate {
			op.Reordered = true
			d += time.Duration(500+rng.IntN(2500)) * time.Millisecond
		}
		op.Deliver = []time.Duration{d}
		if rng.Float64() < dupRate {
			op.Deliver = append(op.Deliver, d+time.Duration(200+rng.IntN(3800))*time.Millisecond)
		}
	}
	return p
}

// Digest identifies the plan: runs with the same digest drove the same changes.
func (p chaosPlan) Digest() string {
	b, _ := json.Marshal(p.Ops)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// chaosEvent is the EventBridge envelope of the CloudTrail record of op,
// made by the owner's deploy role at t, as the enforcer would receive it.
func chaosEvent(op chaosOp, seq int, seed uint64, t time.Time) events.CloudWatchEvent {
	req := map[string]any{"roleName": op.Role}
	var resp any
	switch op.API {
	case "CreateRole":
		req["assumeRolePolicyDocument"] = op.Trust
		resp = map[string]any{"role": map[string]any{
			"path": "/", "roleName": op.Role, "arn": "arn:aws:iam::" + sandbox.Account + ":role/" + op.Role,
			"assumeRolePolicyDocument": url.PathEscape(op.Trust),
		}}
	case "UpdateAssumeRolePolicy":
		req["policyDocument"] = op.Trust
	default:
		req["policyArn"] = op.Policy
	}
	issuer := "arn:aws:iam::" + sandbox.Account + ":role/chaos-deployer"
	detail := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "AssumedRole", "principalId": "AROACHAOSDEPLOYER0001:deploy",
			"arn":       "arn:aws:sts::" + sandbox.Account + ":assumed-role/chaos-deployer/deploy",
			"accountId": sandbox.Account,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{
				"type": "Role", "principalId": "AROACHAOSDEPLOYER0001", "arn": issuer,
				"accountId": sandbox.Account, "userName": "chaos-deployer"}},
			"invokedBy": "cloudformation.amazonaws.com",
		},
		"eventTime":          t.UTC().Format(time.RFC3339),
		"eventSource":        "iam.amazonaws.com",
		"eventName":          op.API,
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "cloudformation.amazonaws.com",
		"userAgent":          "cloudformation.amazonaws.com",
		"requestParameters":  req,
		"responseElements":   resp,
		"eventID":            chaosID(seed, seq),
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": sandbox.Account,
		"eventCategory":      "Management",
	}
	raw, _ := json.Marshal(detail)
	return events.CloudWatchEvent{Version: "0", ID: chaosID(seed^0xE5, seq), DetailType: "AWS API Call via CloudTrail",
		Source: "aws.iam", AccountID: sandbox.Account, Time: t.UTC().Truncate(time.Second), Region: "us-east-1",
		Resources: []string{}, Detail: raw}
}

// chaosID is a UUID-shaped ID that depends on the seed and the sequence number.
func chaosID(seed uint64, seq int) string {
	return fmt.Sprintf("c4a05000-%04x-4%03x-8%03x-%012x", seed&0xffff, (seed>>16)&0xfff, seq>>16&0xfff, seq)
}

// chaosRoleState is a role's state as the stand-in holds it, judged.
type chaosRoleState struct {
	Compliant bool     // trust inside the zone and lockdown attached
	TrustOK   bool     // the trust policy admits no principal outside the zone
	Lockdown  bool     // the lockdown policy is attached (or inline)
	Widened   []string // principals the trust admits that the owner's latest trust did not
	// Narrowed lists principals the owner's latest trust, restricted,
	// admits and the trust does not: where the guardrail could not order
	// two documents and kept what both admit (fail closed; README
	// "Consistency"). Reported, not a failure.
	Narrowed []string
	Exists   bool
}

// judgeRole decides a role's compliance with the engine's own rule
// (trust.Restrict changes nothing, the lockdown is attached) and whether its
// trust admits a principal the owner's latest document did not (issue 19:
// the guardrail must never widen).
func judgeRole(trustDoc string, attached []string, inline []string, lockdownARN, ownerLatest string, zone trust.Zone) chaosRoleState {
	st := chaosRoleState{Exists: true}
	st.Lockdown = slices.Contains(attached, lockdownARN) || slices.Contains(inline, "GuardrailLockdown")
	if doc, err := policy.Parse([]byte(trustDoc)); err == nil {
		if res, err := trust.Restrict(doc, zone); err == nil {
			st.TrustOK = !res.Changed
		}
	}
	st.Compliant = st.TrustOK && st.Lockdown
	latest, final := allowedPrincipals(ownerLatest), allowedPrincipals(trustDoc)
	for _, p := range final {
		if !slices.Contains(latest, p) {
			st.Widened = append(st.Widened, p)
		}
	}
	if doc, err := policy.Parse([]byte(ownerLatest)); err == nil {
		if res, err := trust.Restrict(doc, zone); err == nil {
			if b, err := res.Policy.MarshalJSON(); err == nil {
				for _, p := range allowedPrincipals(string(b)) {
					if !slices.Contains(final, p) {
						st.Narrowed = append(st.Narrowed, p)
					}
				}
			}
		}
	}
	return st
}

// allowedPrincipals lists "Type:value" for every principal an Allow
// statement of doc names ("AWS:*" for "Principal": "*"). A document that
// cannot be read admits, for this check, an unknown principal.
func allowedPrincipals(doc string) []string {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return []string{"unreadable"}
	}
	var sts []map[string]json.RawMessage
	if json.Unmarshal(d.Statement, &sts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(d.Statement, &one) != nil {
			return []string{"unreadable"}
		}
		sts = []map[string]json.RawMessage{one}
	}
	var out []string
	for _, st := range sts {
		var effect string
		_ = json.Unmarshal(st["Effect"], &effect)
		if effect != "Allow" {
			continue
		}
		if _, ok := st["NotPrincipal"]; ok {
			out = append(out, "NotPrincipal")
		}
		var star string
		if json.Unmarshal(st["Principal"], &star) == nil {
			out = append(out, "AWS:"+star)
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(st["Principal"], &m) != nil {
			continue
		}
		for typ, raw := range m {
			var vals []string
			var one string
			if json.Unmarshal(raw, &one) == nil {
				vals = []string{one}
			} else {
				_ = json.Unmarshal(raw, &vals)
			}
			for _, v := range vals {
				out = append(out, typ+":"+v)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
