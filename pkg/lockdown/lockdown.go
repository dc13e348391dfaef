// Package lockdown builds the guardrail's lockdown policy: the explicit-deny
// managed policy attached to every service role (DESIGN.md §5). An explicit
// Deny overrides every Allow, so a role owner can grant whatever a workload
// needs and the role still cannot switch the guardrail off, blind the
// account's audit, mint long-term credentials or new identity providers, mint
// identity tokens for outside services nobody approved, or take the account
// out of its organization.
//
// The document protects the guardrail's own resources by name prefix rather
// than by their ARNs, because the guardrail's functions read this policy's
// ARN: referencing their ARNs (or those of their roles, rules and queues)
// would make a CloudFormation dependency cycle. Every resource of the stack
// must therefore carry Config.NamePrefix followed by '-' (the stack itself may
// be named exactly Config.NamePrefix), and the roles must live at path "/".
// Resources that do not depend on the policy (the alarm topic's KMS key, the
// trail bucket) are protected by their exact ARN or name.
//
// Operational consequence: the roles that deploy and update the guardrail
// (the CDK CloudFormation execution role, StackSets execution roles, CI roles)
// must be exempt from the guardrail, or their own lockdown will refuse the
// deployment. Those roles are administrators by definition, so the lockdown
// denies every service role any IAM action on them, passing them and
// assuming them (ProtectExemptRoles): an exemption must not be a way out.
package lockdown

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// PolicyName is the default name of the lockdown policy, both as a managed
// policy and as the inline fallback used when a role already has the maximum
// number of managed policies.
const PolicyName = "GuardrailLockdown"

// MarkerTagKey is the tag key of the enforcer's write marker (pkg/guardrail,
// marker.go): the lockdown denies every locked-down role setting or removing
// it (statement ProtectGuardrailMarker).
const MarkerTagKey = "iam-guardrail:trust-source"

// DefaultPartition is used when Config.Partition is empty.
const DefaultPartition = "aws"

// DefaultNamePrefix is used when Config.NamePrefix is empty. It matches the
// default stack name, so the stack's resources share it.
const DefaultNamePrefix = "IamRoleGuardrail"

// Limits that bound the largest configuration Document accepts. They are
// chosen so that the largest allowed configuration still fits MaxSize, which
// the tests prove; Document still checks the size of what it built. Every
// budget below is filled at once in that configuration, so they share what
// the fixed statements leave of MaxSize: the audience allow list and its two
// statements were paid for by halving MaxExtraActionsSize (768 before) and
// trimming MaxExemptPatternsSize (560), MaxNamePrefixLength (24) and
// MaxPolicyNameLength (64), which the stack does not use in full (its prefix
// and policy name are 16 and 17 characters long). The write marker's
// statement (ProtectGuardrailMarker, issue 19) was paid for by taking
// MaxExtraActionsSize from 384 to 224.
const (
	// MinNamePrefixLength keeps the prefix from matching unrelated
	// resources: "role/I*" would deny IAM on every role starting with I.
	MinNamePrefixLength = 4
	// MaxNamePrefixLength bounds the prefix, which appears in a dozen ARNs.
	MaxNamePrefixLength = 20
	// MaxPolicyNameLength bounds the policy name, which appears twice
	// (IAM itself allows 128).
	MaxPolicyNameLength = 32
	// MaxActionLength bounds one operator-added action; real IAM action
	// names ("service:Action") are well below it.
	MaxActionLength = 128
	// MaxExtraActionsSize bounds the characters the operator-added actions
	// take in the document: each distinct action counts its length plus 3
	// for its quotes and separating comma. A budget rather than a count,
	// so a few long names and many short ones are treated alike.
	MaxExtraActionsSize = 224
	// MaxExemptPatternsSize bounds the characters the role ARN patterns
	// built from ExemptRoles take in the document (each pattern counts its
	// length, with the longest partition name and a 12-digit account, plus
	// 3 for its quotes and separating comma). It holds the three CDK
	// bootstrap roles the stack exempts by exact name (about 285
	// characters with the longest bootstrap qualifier) and three or four
	// operator exemptions.
	MaxExemptPatternsSize = 500
	// MaxBucketsSize bounds the characters the bucket ARNs built from
	// ProtectedBuckets take (each bucket gives two ARNs, the bucket and its
	// objects; each counts its length, with the longest partition name, a
	// 12-digit account and 63 characters for a bucket name that is a CDK
	// token, plus 3 for its quotes and comma). It holds the CDK assets
	// bucket, the trail bucket, one more bucket of maximum length and a
	// short one.
	MaxBucketsSize = 600
	// MaxTokenAudiencesSize bounds the characters AllowedTokenAudiences
	// take in the document: each distinct audience counts its length plus
	// 3 for its quotes and separating comma. It holds a long audience (a
	// Google Cloud workload identity provider,
	// "//iam.googleapis.com/projects/…/providers/…", is about 110
	// characters) and a short one ("api://AzureADTokenExchange"), or four
	// or five URLs of an ordinary length.
	MaxTokenAudiencesSize = 160
)

// Config says what the lockdown document protects and adds.
type Config struct {
	// Partition is the AWS partition ("aws", "aws-cn", "aws-us-gov", …) or
	// a CDK token that resolves to it. Default DefaultPartition.
	Partition string
	// Account is the 12-digit account ID, or a CDK token string
	// (${Token[…]}) that resolves to it at deployment. Required.
	Account string
	// NamePrefix is the physical-name prefix shared by every resource of
	// the guardrail stack (functions, rules, queues, topics, alarms, log
	// groups, roles, the stack itself). Default DefaultNamePrefix.
	NamePrefix string
	// PolicyName is the name of the lockdown managed policy (at path "/").
	// Default PolicyName.
	PolicyName string
	// ExtraDeniedActions are operator-added actions ("service:Action",
	// '*' and '?' wildcards allowed in the action part) denied on every
	// resource. Duplicates (ignoring case, as IAM does) are removed.
	ExtraDeniedActions []string
	// ExemptRoles are the guardrail's exemption globs (GUARDRAIL_EXEMPT_ROLES:
	// path.Match globs on the role name, or on the path when they start
	// with '/'), exact names included. A name may contain the Account
	// token. Exempt roles escape both controls, so no service role may
	// assume, pass, create, change or delete one (ProtectExemptRoles).
	ExemptRoles []string
	// AlarmKeyARN is the ARN of the KMS key that encrypts the guardrail's
	// alarm topic, or a CDK token resolving to it. Optional.
	AlarmKeyARN string
	// ProtectedBuckets are S3 bucket names whose objects, policy and
	// lifecycle no service role may change: the CDK assets bucket (the
	// guardrail's code), the trail bucket, an existing trail's bucket. A
	// name may be a CDK token or contain the Account token.
	ProtectedBuckets []string
	// AllowedTokenAudiences are the audiences (the "aud" claim) for which
	// service roles may mint outbound identity tokens
	// (sts:GetWebIdentityToken). Matched exactly, case-sensitively. Empty
	// (the default) denies service roles every outbound identity token.
	AllowedTokenAudiences []string
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field string // Config field name
	Value string // offending value
	Err   error  // what is wrong
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("lockdown %s %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

var (
	accountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	tokenRe     = regexp.MustCompile(`^\$\{Token\[[A-Za-z0-9_.:-]+\]\}$`)
	partitionRe = regexp.MustCompile(`^aws(?:-[a-z]+)*$`)
	// The prefix must be valid in every name it is part of: Lambda function
	// and SQS queue names allow letters, digits, '-' and '_'; stack names
	// allow letters, digits and '-' and start with a letter.
	prefixRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	policyNameRe = regexp.MustCompile(`^[\w+=,.@-]+$`)
	// Service prefixes are letters, digits and '-' (IAM matches actions
	// case-insensitively); action names are letters and digits; '*' and
	// '?' are IAM's action wildcards, allowed in the action part only.
	actionRe = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$`)
	// tokenInRe finds CDK tokens inside a longer string.
	tokenInRe = regexp.MustCompile(`\$\{Token\[[A-Za-z0-9_.:-]+\]\}`)
	// S3 general purpose bucket names: 3-63 lowercase letters, digits,
	// '.' and '-', starting and ending with a letter or digit (S3 user
	// guide, "Bucket naming rules").
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// A KMS key ARN (AWS KMS developer guide, "Key identifiers").
	keyARNRe = regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:key/(?:mrk-)?[A-Za-z0-9-]{1,64}$`)
)

// Stand-ins used to size a document whose partition or account is a CDK
// token: the token's text has nothing to do with the length of the value
// CloudFormation substitutes. An account ID is always 12 digits; the longest
// partition name in use is "aws-us-gov", so sizing with it is an upper bound.
const (
	sizingAccount   = "000000000000"
	sizingPartition = "aws-us-gov"
	// sizingKeyARN is the longest key ARN of the longest partition and
	// Region names in use (a multi-Region key: "mrk-" and 32 hex digits).
	sizingKeyARN = "arn:aws-us-gov:kms:ap-southeast-7:000000000000:key/mrk-00000000000000000000000000000000"
)

// sizingBucketToken stands in for a bucket name that is a CDK token: S3's
// longest bucket name.
var sizingBucketToken = strings.Repeat("b", 63)

// Document returns the lockdown policy as compact JSON. The same Config always
// yields the same bytes. It returns a *ConfigError for an invalid field and a
// *SizeError if the document would exceed MaxSize. When Partition or Account
// is a CDK token, the size is checked on the same document built with a
// 12-digit account and the longest partition name in place of the tokens.
func Document(c Config) ([]byte, error) {
	c, extras, err := normalize(c)
	if err != nil {
		return nil, err
	}
	sized := sizingConfig(c)
	if n := exemptPatternsSize(sized.ExemptRoles); n > MaxExemptPatternsSize {
		return nil, &ConfigError{Field: "ExemptRoles", Value: strings.Join(c.ExemptRoles, ","),
			Err: fmt.Errorf("become %d characters of role ARN patterns, more than the %d allowed; use fewer, broader globs", n, MaxExemptPatternsSize)}
	}
	if n := bucketsSize(sized.ProtectedBuckets); n > MaxBucketsSize {
		return nil, &ConfigError{Field: "ProtectedBuckets", Value: strings.Join(c.ProtectedBuckets, ","),
			Err: fmt.Errorf("become %d characters of bucket ARNs, more than the %d allowed", n, MaxBucketsSize)}
	}
	doc, err := encode(statements(sized, extras))
	if err != nil {
		return nil, err
	}
	if err := CheckSize(doc); err != nil {
		return nil, err
	}
	if reflect.DeepEqual(sized, c) {
		return doc, nil
	}
	return encode(statements(c, extras))
}

// sizingConfig returns c with every CDK token replaced by the longest value
// it may resolve to, so that the document built from it is at least as long
// as the deployed one.
func sizingConfig(c Config) Config {
	s := c
	if isToken(s.Partition) {
		s.Partition = sizingPartition
	}
	if isToken(s.Account) {
		s.Account = sizingAccount
	}
	// Names built by the stack hold the account token; other tokens in a
	// name (a generated bucket name) stand for a name of unknown length.
	inName := func(v, standIn string) string {
		if isToken(c.Account) {
			v = strings.ReplaceAll(v, c.Account, sizingAccount)
		}
		if isToken(c.Partition) {
			v = strings.ReplaceAll(v, c.Partition, sizingPartition)
		}
		return tokenInRe.ReplaceAllString(v, standIn)
	}
	s.ExemptRoles = make([]string, len(c.ExemptRoles))
	for i, g := range c.ExemptRoles {
		s.ExemptRoles[i] = inName(g, sizingAccount)
	}
	s.ProtectedBuckets = make([]string, len(c.ProtectedBuckets))
	for i, b := range c.ProtectedBuckets {
		s.ProtectedBuckets[i] = inName(b, sizingBucketToken)
	}
	if tokenInRe.MatchString(s.AlarmKeyARN) {
		s.AlarmKeyARN = sizingKeyARN
	}
	return s
}

func isToken(s string) bool { return tokenRe.MatchString(s) }

// exemptPatternsSize is the budget measure of MaxExemptPatternsSize, on
// globs whose tokens sizingConfig replaced.
func exemptPatternsSize(globs []string) int {
	n := 0
	for _, g := range globs {
		n += len(rolePattern(sizingPartition, sizingAccount, g)) + 3
	}
	return n
}

// bucketsSize is the budget measure of MaxBucketsSize, on names whose
// tokens sizingConfig replaced.
func bucketsSize(buckets []string) int {
	n := 0
	for _, b := range bucketARNs(sizingPartition, buckets) {
		n += len(b) + 3
	}
	return n
}

// bucketARNs returns the ARN of each bucket and of every object in it.
func bucketARNs(partition string, buckets []string) []string {
	var out []string
	for _, b := range buckets {
		arn := "arn:" + partition + ":s3:::" + b
		out = append(out, arn, arn+"/*")
	}
	return out
}

// RolePatterns returns the role ARN patterns (IAM's '*' and '?' wildcards)
// that match at least every role the exemption globs exempt: the lockdown
// denies them to service roles, and the stack denies them to the
// guardrail's own roles. See rolePattern.
func RolePatterns(partition, account string, globs []string) []string {
	out := make([]string, 0, len(globs))
	for _, g := range globs {
		out = append(out, rolePattern(partition, account, g))
	}
	return out
}

// rolePattern turns an exemption glob into a role ARN pattern that matches
// at least every role the glob exempts. A role's ARN holds its path before
// its name ("role/team/name"), and in IAM's ARN matching '*' also matches
// '/', so a name glob G becomes "role/*G": every path, including the root.
// It also matches names that merely end with G, which only widens a deny.
// A path glob matches the path, which the name follows. IAM patterns know
// only '*' and '?': a character class becomes '?' and escapes are dropped,
// which can only widen the match, too.
func rolePattern(partition, account, glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		// A CDK token (the account in a bootstrap role's name) is copied
		// as it is: its brackets are no character class.
		if loc := tokenInRe.FindStringIndex(glob[i:]); loc != nil && loc[0] == 0 {
			b.WriteString(glob[i : i+loc[1]])
			i += loc[1] - 1
			continue
		}
		switch c := glob[i]; c {
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		case '[':
			if j := strings.IndexByte(glob[i+1:], ']'); j >= 0 {
				i += j + 1
			}
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	pat, role := b.String(), "arn:"+partition+":iam::"+account+":role"
	if strings.HasPrefix(pat, "/") {
		if !strings.HasSuffix(pat, "*") {
			pat += "*"
		}
		return role + pat
	}
	return role + "/*" + pat
}

// MaxAudienceLength is STS's limit on one audience of GetWebIdentityToken
// (STS API reference, GetWebIdentityToken, Audience.member.N: "Maximum
// length of 1000").
const MaxAudienceLength = 1000

// validateAudience accepts an audience the lockdown can name exactly:
// printable ASCII without white space, which covers URLs, URNs and client
// IDs. Refused besides: '"' and '\' (JSON escapes would make the size count
// and the condition value differ from what the operator wrote), ',' (the
// list separator of `cdk -c`), '$' (IAM reads "${…}" in a condition value
// as a policy variable: IAM User Guide, "IAM policy elements: Variables and
// tags"), and '*' and '?', which StringNotEquals compares
// literally: an operator who meant a wildcard would approve nothing.
func validateAudience(a string) error {
	if len(a) > MaxAudienceLength {
		return fmt.Errorf("is longer than %d characters (STS's limit for an audience)", MaxAudienceLength)
	}
	for _, r := range a {
		switch {
		case r < 0x21 || r > 0x7e:
			return errors.New("holds white space or a character outside printable ASCII")
		case strings.ContainsRune(`"\,$`, r):
			return fmt.Errorf("holds %q, which an audience listed in the lockdown may not contain", r)
		case r == '*' || r == '?':
			return fmt.Errorf("holds %q: audiences are matched exactly (StringNotEquals), not as patterns; list each one", r)
		}
	}
	return nil
}

// audiencesSize is the budget measure of MaxTokenAudiencesSize.
func audiencesSize(audiences []string) int {
	n := 0
	for _, a := range audiences {
		n += len(a) + 3
	}
	return n
}

// extraActionsSize is the budget measure of MaxExtraActionsSize.
func extraActionsSize(actions []string) int {
	n := 0
	for _, a := range actions {
		n += len(a) + 3
	}
	return n
}

// normalize applies defaults, validates every field and returns the extra
// actions deduplicated and sorted, so equal configurations build equal bytes.
func normalize(c Config) (Config, []string, error) {
	if c.Partition == "" {
		c.Partition = DefaultPartition
	}
	if c.NamePrefix == "" {
		c.NamePrefix = DefaultNamePrefix
	}
	if c.PolicyName == "" {
		c.PolicyName = PolicyName
	}
	bad := func(field, value string, err error) (Config, []string, error) {
		return Config{}, nil, &ConfigError{Field: field, Value: value, Err: err}
	}
	if !isToken(c.Partition) && (!partitionRe.MatchString(c.Partition) || len(c.Partition) > len(sizingPartition)) {
		return bad("Partition", c.Partition, fmt.Errorf(`is neither a partition name ("aws", "aws-cn", …, at most %d characters) nor a CDK token`, len(sizingPartition)))
	}
	if !accountRe.MatchString(c.Account) && !isToken(c.Account) && c.Account != PrincipalAccountVariable {
		return bad("Account", c.Account, errors.New("is neither a 12-digit account ID, a CDK token nor "+PrincipalAccountVariable))
	}
	switch {
	case len(c.NamePrefix) < MinNamePrefixLength || len(c.NamePrefix) > MaxNamePrefixLength:
		return bad("NamePrefix", c.NamePrefix, fmt.Errorf("must be %d to %d characters long", MinNamePrefixLength, MaxNamePrefixLength))
	case !prefixRe.MatchString(c.NamePrefix):
		return bad("NamePrefix", c.NamePrefix, errors.New("must start with a letter and hold only letters, digits and '-' (valid in function, queue, role and stack names)"))
	}
	if len(c.PolicyName) > MaxPolicyNameLength || !policyNameRe.MatchString(c.PolicyName) {
		return bad("PolicyName", c.PolicyName, fmt.Errorf("is not an IAM policy name (1-%d of letters, digits and _+=,.@-)", MaxPolicyNameLength))
	}

	var actions []string
	for _, a := range c.ExtraDeniedActions {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			continue
		case strings.Trim(a, "*") == "" || strings.HasPrefix(a, "*:"):
			return bad("ExtraDeniedActions", a, errors.New("would deny every action of every service; name a service (\"service:Action\")"))
		case len(a) > MaxActionLength:
			return bad("ExtraDeniedActions", a, fmt.Errorf("is longer than %d characters", MaxActionLength))
		case !actionRe.MatchString(a):
			return bad("ExtraDeniedActions", a, errors.New(`is not an IAM action ("service:Action", '*' and '?' allowed in Action)`))
		}
		actions = append(actions, a)
	}
	// IAM matches action names case-insensitively, so "s3:GetObject" and
	// "S3:getobject" are one action. Sorting before removing duplicates
	// keeps the same spelling whatever the input order.
	sort.Slice(actions, func(i, j int) bool {
		li, lj := strings.ToLower(actions[i]), strings.ToLower(actions[j])
		if li != lj {
			return li < lj
		}
		return actions[i] < actions[j]
	})
	var extras []string
	for _, a := range actions {
		if len(extras) == 0 || !strings.EqualFold(extras[len(extras)-1], a) {
			extras = append(extras, a)
		}
	}
	exempt := make([]string, 0, len(c.ExemptRoles))
	for _, g := range c.ExemptRoles {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if strings.Trim(g, "*/") == "" {
			return bad("ExemptRoles", g, errors.New("would deny assuming every role"))
		}
		exempt = append(exempt, g)
	}
	sort.Strings(exempt)
	c.ExemptRoles = slices.Compact(exempt)
	if c.AlarmKeyARN != "" && !keyARNRe.MatchString(c.AlarmKeyARN) && !isToken(c.AlarmKeyARN) {
		return bad("AlarmKeyARN", c.AlarmKeyARN, errors.New("is neither a KMS key ARN nor a CDK token"))
	}
	buckets := make([]string, 0, len(c.ProtectedBuckets))
	for _, b := range c.ProtectedBuckets {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if bare := tokenInRe.ReplaceAllString(b, "0"); !bucketRe.MatchString(bare) && !(bare != b && bucketRe.MatchString(bare+"00")) {
			return bad("ProtectedBuckets", b, errors.New("is not an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')"))
		}
		if !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	// In the order given: sorting would order a token by its text, not by
	// the name it stands for.
	c.ProtectedBuckets = buckets
	audiences := make([]string, 0, len(c.AllowedTokenAudiences))
	for _, a := range c.AllowedTokenAudiences {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if err := validateAudience(a); err != nil {
			return bad("AllowedTokenAudiences", a, err)
		}
		audiences = append(audiences, a)
	}
	// StringNotEquals compares case-sensitively (IAM User Guide, "IAM JSON
	// policy elements: Condition operators"), so only exact duplicates go.
	sort.Strings(audiences)
	c.AllowedTokenAudiences = slices.Compact(audiences)
	if n := audiencesSize(c.AllowedTokenAudiences); n > MaxTokenAudiencesSize {
		return bad("AllowedTokenAudiences", strings.Join(c.AllowedTokenAudiences, ","), fmt.Errorf("take %d characters, more than the %d allowed", n, MaxTokenAudiencesSize))
	}
	if n := extraActionsSize(extras); n > MaxExtraActionsSize {
		return bad("ExtraDeniedActions", fmt.Sprintf("%d actions", len(extras)), fmt.Errorf("take %d characters, more than the %d allowed; combine them with wildcards (\"service:Prefix*\")", n, MaxExtraActionsSize))
	}
	return c, extras, nil
}

// statement is one IAM policy statement. Field order is the JSON order.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

func encode(sts []statement) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(document{Version: "2012-10-17", Statement: sts}); err != nil {
		return nil, fmt.Errorf("encode lockdown policy: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func deny(sid string, actions []string, resources ...string) statement {
	return statement{Sid: sid, Effect: "Deny", Action: actions, Resource: resources}
}

// statements lists the lockdown statements for a validated config. Each
// carries one line on the attack it stops.
func statements(c Config, extras []string) []statement {
	// Every guardrail resource is named NamePrefix + "-" + something: the
	// '-' keeps the patterns off application resources that merely start
	// with the same word ("IamRoleGuardrailTests").
	p, a, x := c.Partition, c.Account, c.NamePrefix+"-"
	policyARN := "arn:" + p + ":iam::" + a + ":policy/" + c.PolicyName

	sts := []statement{
		// Stops a workload from disabling the guardrail at run time: editing
		// or deleting its functions, triggers, schedules, queues, alarm
		// topics, alarms and decision logs, or purging the dead-letter
		// queue. Reads are denied too: the functions' environment reveals
		// which roles are exempt and which accounts are trusted, and the
		// decision logs hold every trust policy; no workload needs them
		// (operators read them through Identity Center roles, which are
		// aws-reserved and never locked down).
		// A trailing '*' in an ARN also matches ':' and '/', so the
		// log-group pattern covers its log streams ("…:log-group:NAME:*").
		deny("ProtectGuardrailRuntime",
			[]string{"cloudwatch:*", "events:*", "lambda:*", "logs:*", "scheduler:*", "sns:*", "sqs:*"},
			"arn:"+p+":lambda:*:"+a+":function:"+x+"*",
			"arn:"+p+":events:*:"+a+":rule/"+x+"*",
			"arn:"+p+":scheduler:*:"+a+":schedule/*/"+x+"*",
			"arn:"+p+":sqs:*:"+a+":"+x+"*",
			"arn:"+p+":sns:*:"+a+":"+x+"*",
			"arn:"+p+":cloudwatch:*:"+a+":alarm:"+x+"*",
			"arn:"+p+":logs:*:"+a+":log-group:/aws/lambda/"+x+"*",
		),
		// Stops a workload from taking over or crippling the guardrail's
		// roles: widening their trust, changing their permissions, passing
		// them to its own compute (iam:PassRole) to borrow their IAM write
		// access, or assuming them.
		deny("ProtectGuardrailRoles",
			[]string{"iam:*", "sts:AssumeRole"},
			"arn:"+p+":iam::"+a+":role/"+x+"*",
			"arn:"+p+":iam::"+a+":policy/"+x+"*",
		),
		// Stops a workload from deleting or rewriting the whole guardrail at
		// once through its CloudFormation stack (stack ARNs end in /<id>).
		deny("ProtectGuardrailStack",
			[]string{"cloudformation:*"},
			"arn:"+p+":cloudformation:*:"+a+":stack/"+c.NamePrefix+"/*",
			"arn:"+p+":cloudformation:*:"+a+":stack/"+x+"*/*",
		),
		// Stops a workload from emptying the lockdown itself: a new default
		// version without these statements would free every service role.
		deny("ProtectLockdownPolicy",
			[]string{"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"},
			policyARN,
		),
		// Stops a role from freeing itself (or another role) by detaching
		// the lockdown. iam:PolicyARN is the documented condition key of
		// DetachRolePolicy (Service Authorization Reference, IAM).
		//
		// The inline fallback (PutRolePolicy "GuardrailLockdown") and the
		// session revocation policy "GuardrailRevokeOlderSessions" cannot be
		// protected the same way: PutRolePolicy and DeleteRolePolicy have no
		// condition key naming the inline policy (their only IAM key is
		// iam:PermissionsBoundary), so a deny would have to cover every
		// inline policy of every role and would break every deployment
		// pipeline that manages roles. Those changes are caught instead:
		// PutRolePolicy and DeleteRolePolicy are in the guardrail's event
		// rule, and the enforcer re-applies the lockdown.
		{
			Sid:       "ProtectLockdownAttachment",
			Effect:    "Deny",
			Action:    []string{"iam:DetachRolePolicy"},
			Resource:  []string{"*"},
			Condition: map[string]map[string]any{"ArnEquals": {"iam:PolicyARN": policyARN}},
		},
		// Stops a workload from forging or erasing the guardrail's write
		// marker on any role (CreateRole, TagRole or UntagRole with its key),
		// which would make the enforcer restrict the wrong one of two
		// documents (never admit an outsider: the marker only picks which
		// document is restricted). aws:TagKeys is the condition key of the
		// tag keys in a request (IAM User Guide, "Controlling access to and
		// for IAM users and roles using tags",
		// https://docs.aws.amazon.com/IAM/latest/UserGuide/access_iam-tags.html);
		// iam:* keeps the statement short, and only requests naming the key
		// match.
		{
			Sid:       "ProtectGuardrailMarker",
			Effect:    "Deny",
			Action:    []string{"iam:*"},
			Resource:  []string{"*"},
			Condition: map[string]map[string]any{"ForAnyValue:StringEquals": {"aws:TagKeys": MarkerTagKey}},
		},
		// Stops a workload from freeing itself or another role from the
		// permissions boundary its owner set (a role could remove its own),
		// and from granting itself more through an IAM user or group whose
		// credentials it holds: attaching or putting policies on users and
		// groups, joining a group, removing a user's boundary. Workloads do
		// not administer IAM users (CreateUser is denied below).
		deny("DenyPermissionEscalation",
			[]string{"iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachUserPolicy",
				"iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary", "iam:PutGroupPolicy",
				"iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy"},
			"*"),
		// Stops a workload from hiding what it does and blinding what would
		// notice. One statement keeps the document within IAM's size limit;
		// wildcards also cover actions AWS adds later (no workload
		// administers these services), and the plural List…/Describe…
		// reads never match a "*Singular" pattern.
		deny("ProtectAudit", slices.Concat(
			// CloudTrail: stopping, deleting or narrowing trails and
			// CloudTrail Lake event data stores (the guardrail's own input:
			// no trail, no IAM events).
			[]string{"cloudtrail:Delete*", "cloudtrail:Put*", "cloudtrail:Stop*", "cloudtrail:Update*"},
			// CloudWatch Logs account policies reach every log group at
			// once, the decision logs included: a subscription filter
			// copies them out, a data protection policy masks them, a
			// transformer rewrites them (CloudWatch Logs API reference,
			// PutAccountPolicy).
			[]string{"logs:DeleteAccountPolicy", "logs:PutAccountPolicy"},
			// AWS Config: stopping or redirecting the recorder, which keeps
			// the configuration history of every role.
			[]string{"config:*ConfigurationRecorder", "config:*DeliveryChannel", "config:*RetentionConfiguration"},
			// GuardDuty: deleting or suspending the detector, leaving the
			// administrator account, or suppressing findings with trusted
			// IP lists and auto-archive filters.
			[]string{"guardduty:CreateFilter", "guardduty:CreateIPSet", "guardduty:Delete*", "guardduty:Disassociate*", "guardduty:Update*"},
			// Security Hub: switching it off, leaving its administrator,
			// disabling standards or controls, or suppressing findings with
			// automation rules.
			[]string{"securityhub:BatchDisableStandards", "securityhub:CreateAutomationRule*", "securityhub:Disable*",
				"securityhub:Disassociate*", "securityhub:UpdateAutomationRule*", "securityhub:UpdateStandardsControl"},
			// IAM Access Analyzer, which reports external access: deleting
			// it or archiving its findings.
			[]string{"access-analyzer:*ArchiveRule", "access-analyzer:DeleteAnalyzer", "access-analyzer:UpdateFindings"},
		), "*"),
		// Stops a workload from minting credentials that outlive its
		// session and its role: IAM users, access keys (new or
		// re-activated), console passwords, service-specific credentials,
		// SSH keys and signing certificates.
		deny("DenyLongTermCredentials",
			// ("*AccessKey": Create, Update, Delete; the plural List… does
			// not match.)
			[]string{"iam:*AccessKey", "iam:*LoginProfile", "iam:*ServiceSpecificCredential", "iam:CreateUser",
				"iam:UpdateSSHPublicKey", "iam:UpdateSigningCertificate", "iam:Upload*"},
			"*"),
		// Stops a workload from creating its own way in: the trust engine
		// accepts identity providers of this account, so a new SAML or OIDC
		// provider (or a new audience/thumbprint on one), or an IAM Roles
		// Anywhere trust anchor, would be a door the guardrail treats as
		// trusted.
		deny("DenyNewIdentityProviders",
			[]string{"iam:AddClientIDToOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider", "iam:CreateSAMLProvider",
				"iam:UpdateOpenIDConnectProvider*", "iam:UpdateSAMLProvider", "rolesanywhere:*TrustAnchor"},
			"*"),
		// Stops a workload from taking the account out of reach of its
		// owners: closing it, redirecting the security and billing contacts
		// or the root e-mail (account takeover), or opting in to Regions
		// that nobody monitors; and from flipping the account-wide switch
		// of outbound identity federation (IAM API reference,
		// EnableOutboundWebIdentityFederation: "When enabled, IAM
		// principals in your account can use the GetWebIdentityToken API";
		// DisableOutboundWebIdentityFederation is its twin): turning it on
		// opens a way out for every principal of the account, the
		// guardrail's other denies notwithstanding; turning it off breaks
		// the workloads that rely on it. Both are iam: actions (Service
		// Authorization Reference, IAM; the CLI is `aws iam
		// enable-outbound-web-identity-federation`, IAM User Guide,
		// "Getting started with outbound identity federation"); the
		// pattern matches the two and not the read
		// GetOutboundWebIdentityFederationInfo.
		deny("DenyAccountChanges",
			[]string{"account:*AlternateContact", "account:*PrimaryEmailUpdate", "account:CloseAccount",
				"account:EnableRegion", "account:PutContactInformation",
				"iam:*OutboundWebIdentityFederation"},
			"*"),
		// Stops a workload from escaping or weakening the organization's
		// controls: leaving it (SCPs and the organization trail stop
		// applying), and, from the management account, removing accounts,
		// deleting or detaching SCPs, disabling policy types, or turning off
		// trusted access (which stops organization trails and StackSets).
		deny("DenyOrganizationChanges",
			[]string{"organizations:Delete*", "organizations:DeregisterDelegatedAdministrator", "organizations:DetachPolicy",
				"organizations:Disable*", "organizations:LeaveOrganization", "organizations:RemoveAccountFromOrganization",
				"organizations:UpdatePolicy"},
			"*"),
	}
	sts = slices.Insert(sts, slices.IndexFunc(sts, func(st statement) bool { return st.Sid == "DenyAccountChanges" }),
		identityTokens(c.AllowedTokenAudiences)...)
	var extra []statement
	if len(c.ExemptRoles) > 0 {
		// Stops a workload from shedding the lockdown through a role the
		// guardrail leaves alone. Exempt roles (break-glass, deployment
		// roles such as the CDK's, which trust the whole account) are
		// neither restricted nor locked down and never reverted, so
		// assuming one, passing one to a service (CloudFormation, Lambda,
		// EC2, Glue) that then acts as it, rewriting its trust or
		// policies, or creating a new role whose name matches an
		// exemption are all escapes. iam:* on a role ARN covers every one
		// of those writes (create, trust, policies, boundary, tags,
		// delete) and iam:PassRole, whose resource is the passed role
		// (IAM user guide, "Granting a user permissions to pass a role").
		extra = append(extra, deny("ProtectExemptRoles", []string{"iam:*", "sts:AssumeRole"}, RolePatterns(p, a, c.ExemptRoles)...))
	}
	if c.AlarmKeyARN != "" {
		// Stops a workload from silencing the alarms: CloudWatch cannot
		// publish to the encrypted alarm topic once its key is disabled,
		// scheduled for deletion, or its key policy or grants changed.
		extra = append(extra, deny("ProtectAlarmKey", []string{"kms:*"}, c.AlarmKeyARN))
	}
	if len(c.ProtectedBuckets) > 0 {
		// Stops a workload from replacing the guardrail's code in the CDK
		// assets bucket (the next deployment that finds an object under
		// the same content hash ships it instead of uploading), and from
		// deleting, expiring or re-routing the trail's log files through
		// the bucket policy, lifecycle or replication.
		extra = append(extra, deny("ProtectBuckets", []string{"s3:Delete*", "s3:Put*", "s3:Replicate*"}, bucketARNs(p, c.ProtectedBuckets)...))
	}
	// They follow the statements that protect the guardrail and the
	// lockdown (the first five).
	sts = slices.Insert(sts, 5, extra...)
	if len(extras) > 0 {
		// Actions the operator chose to deny to every service role.
		sts = append(sts, deny("OperatorDeniedActions", extras, "*"))
	}
	return sts
}

// Actions of IAM outbound identity federation (IAM User Guide, "Controlling
// access with IAM policies", id_roles_providers_outbound_policies.html: "To
// request identity tokens, an IAM principal must have the
// sts:GetWebIdentityToken permission… To allow Tags (key, value pairs) to be
// passed to the GetWebIdentityToken call, the IAM principal must have the
// sts:TagGetWebIdentityToken permission").
const (
	actionGetWebIdentityToken    = "sts:GetWebIdentityToken"
	actionTagGetWebIdentityToken = "sts:TagGetWebIdentityToken"
	// keyTokenAudience is multivalued: ArrayOfString in the Service
	// Authorization Reference (STS), as the request's Audience.member.N
	// holds 1 to 10 audiences (STS API reference, GetWebIdentityToken).
	keyTokenAudience = "sts:IdentityTokenAudience"
)

// identityTokens returns the statements that keep service roles from minting
// outbound identity tokens (IAM User Guide, "IAM outbound identity
// federation"): a JSON web token, signed by STS, asserting the role's
// identity to any outside service that trusts the account's issuer. A
// workload that mints one for an audience nobody approved carries the
// account's identity out of it.
func identityTokens(audiences []string) []statement {
	if len(audiences) == 0 {
		// No audience approved: no token, tagged or not. With no token to
		// tag, the tagging permission has no legitimate use; denying it
		// too keeps the deny independent of how STS pairs the two checks.
		return []statement{deny("DenyIdentityTokens", []string{actionGetWebIdentityToken, actionTagGetWebIdentityToken}, "*")}
	}
	// A request names 1 to 10 audiences, all of which go into the token's
	// "aud" claim, so it is refused when ANY of them is unlisted.
	// ForAnyValue "tests whether at least one member of the set of request
	// context key values matches at least one member of the set of context
	// key values in your policy condition" (IAM User Guide, "Single-valued
	// vs. multivalued context keys"), and a negated operator with several
	// values is their NOR (IAM User Guide, "Conditions with multiple
	// context keys or values": "If a single negated matching condition
	// operator includes multiple values for a context key, those values
	// are evaluated using a logical NOR"). So ForAnyValue:StringNotEquals
	// is true when some requested audience equals none of the list: a
	// request naming an approved and an unapproved audience together is
	// denied. (ForAnyValue:StringEquals in an Allow, as in some AWS
	// samples, would let exactly that request through; ForAllValues in a
	// Deny would deny only when every audience is unlisted.)
	//
	// The pair of Deny statements, ForAnyValue:StringNotEquals over a list
	// and Null "true" on the same key, is the form AWS documents for
	// "deny unless every value is one of these" (AWS CloudTrail User
	// Guide, "Identity-based policy examples for AWS CloudTrail": denying
	// CreateEventDataStore unless the stage tag is alpha, beta, gamma or
	// prod); AWS's own outbound-federation RCP sample denies
	// GetWebIdentityToken with ForAnyValue:StringNotLike on this key
	// (aws-samples/resource-control-policy-examples,
	// IAM-Restrict-outbound-federation.json). StringNotEquals rather than
	// StringNotLike: an audience is named exactly, never as a pattern.
	//
	// sts:TagGetWebIdentityToken stays allowed: it has no audience key
	// (Service Authorization Reference, STS: aws:RequestTag/${TagKey} and
	// aws:TagKeys only), and it only lets tags ride on a GetWebIdentityToken
	// call, which these statements still judge by its audiences; a tagged
	// token thus only ever reaches an approved audience, whose owner
	// decides what the caller-chosen tags are worth.
	return []statement{
		{
			Sid: "DenyUnlistedTokenAudiences", Effect: "Deny",
			Action: []string{actionGetWebIdentityToken}, Resource: []string{"*"},
			Condition: map[string]map[string]any{"ForAnyValue:StringNotEquals": {keyTokenAudience: audiences}},
		},
		// ForAnyValue is false when the key is absent ("When using
		// ForAnyValue with a Deny effect, if the context key is not
		// present in the request, the policy evaluates as No match", same
		// page). STS requires at least one audience, so the key should
		// always be there; if it ever is not, the request is refused
		// rather than let through (the Null operator, IAM User Guide,
		// "Condition operator to check existence of condition keys").
		{
			Sid: "DenyTokensWithoutAudience", Effect: "Deny",
			Action: []string{actionGetWebIdentityToken}, Resource: []string{"*"},
			Condition: map[string]map[string]any{"Null": {keyTokenAudience: "true"}},
		},
	}
}
