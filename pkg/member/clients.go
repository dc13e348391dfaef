// Package member provides the hub's access to the member accounts of an AWS
// Organization (DESIGN.md §11): IAM clients signed with the member role's
// temporary credentials, obtained with STS AssumeRole on the regional
// endpoint and cached per account until shortly before they expire
// (Clients), and the organization's own facts — its ID, its management
// account and its accounts — read from AWS Organizations (Organization).
package member

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// AssumeRoleAPI is the STS call Clients makes; *sts.Client satisfies it.
type AssumeRoleAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// ExpiryWindow is how long before they expire cached member credentials are
// renewed: an evaluation that starts with them must finish with them (the
// enforcer's re-reads and writes take seconds; a sweep of one account well
// under a minute).
const ExpiryWindow = 5 * time.Minute

// SessionDuration is the member sessions' lifetime: STS's default and
// the most a session of a role may last when the hub itself runs as a role
// session (role chaining; STS API reference, AssumeRole, DurationSeconds).
const SessionDuration = time.Hour

// Clients gives the hub an IAM and a Security Hub client per member
// account, signed with the member role's credentials. It is safe for concurrent use; each account's
// credentials are fetched once and shared until they near expiry.
type Clients struct {
	base    aws.Config
	sts     AssumeRoleAPI
	roleARN func(account string) string

	mu       sync.Mutex
	accounts map[string]*account
}

// account is one member's cached credentials and clients.
type account struct {
	creds *aws.CredentialsCache
	iam   *iam.Client
	// securityHub imports the member's own findings (publish.MemberFindings).
	securityHub *securityhub.Client
}

// NewClients returns the member clients of a hub whose own configuration
// is base (region, retryer, endpoints: the SDK's AWS_ENDPOINT_URL_IAM and
// AWS_ENDPOINT_URL_STS apply as usual). roleARN names the member role in
// an account (config.Config.MemberRoleARN). The STS client is built from
// base: the SDK for Go v2 calls the regional STS endpoint of base's region
// (AWS SDKs and Tools Reference Guide, "AWS STS Regional endpoints":
// default regional; https://docs.aws.amazon.com/sdkref/latest/guide/feature-sts-regionalized-endpoints.html),
// which AWS recommends and which keeps the hub's AssumeRole calls in the
// Region it runs in.
func NewClients(base aws.Config, roleARN func(account string) string) *Clients {
	return newClients(base, sts.NewFromConfig(base), roleARN)
}

func newClients(base aws.Config, stsAPI AssumeRoleAPI, roleARN func(string) string) *Clients {
	return &Clients{base: base, sts: stsAPI, roleARN: roleARN, accounts: map[string]*account{}}
}

// Config returns the hub's own configuration the clients were built from.
func (c *Clients) Config() aws.Config { return c.base }

// AssumeError says that the hub could not assume the member role in an
// account. Its message names the account, the role and STS's reason; the
// enforcer records it and returns it so that Lambda retries the event
// (the member stack may still be deploying, or an SCP may block the hub).
type AssumeError struct {
	Account, RoleARN string
	Err              error
}

func (e *AssumeError) Error() string {
	return fmt.Sprintf("cannot assume %s in member account %s: %v", e.RoleARN, e.Account, e.Err)
}

// Unwrap returns STS's error.
func (e *AssumeError) Unwrap() error { return e.Err }

// IAM returns the IAM client of the member account acct. It makes sure the
// client has credentials first — cached ones, or new ones from AssumeRole
// with the session name session (SessionName) — so a member the hub cannot
// assume into fails here, with an *AssumeError, rather than inside the
// first IAM call.
func (c *Clients) IAM(ctx context.Context, acct, session string) (*iam.Client, error) {
	a, err := c.assumed(ctx, acct, session)
	if err != nil {
		return nil, err
	}
	return a.iam, nil
}

// SecurityHub returns the Security Hub client of the member account acct,
// signed with the member role's credentials like IAM's (the same cache):
// an account may import findings under its default product ARN only for
// itself ("the identifier of the account that you are calling
// BatchImportFindings from needs to be the same as the AwsAccountId
// attribute for the finding", Security Hub API reference,
// BatchImportFindings), so the hub imports each member's findings as that
// member.
func (c *Clients) SecurityHub(ctx context.Context, acct, session string) (*securityhub.Client, error) {
	a, err := c.assumed(ctx, acct, session)
	if err != nil {
		return nil, err
	}
	return a.securityHub, nil
}

// assumed returns acct's clients once their credentials are valid.
func (c *Clients) assumed(ctx context.Context, acct, session string) (*account, error) {
	a := c.account(acct)
	if _, err := a.creds.Retrieve(withSession(ctx, session)); err != nil {
		return nil, &AssumeError{Account: acct, RoleARN: c.roleARN(acct), Err: err}
	}
	return a, nil
}

func (c *Clients) account(acct string) *account {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.accounts[acct]; a != nil {
		return a
	}
	p := &assumeProvider{sts: c.sts, roleARN: c.roleARN(acct)}
	cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = ExpiryWindow })
	cfg := c.base.Copy()
	cfg.Credentials = cache
	a := &account{creds: cache, iam: iam.NewFromConfig(cfg), securityHub: securityhub.NewFromConfig(cfg)}
	c.accounts[acct] = a
	return a
}

// assumeProvider is an aws.CredentialsProvider that assumes one member
// role. Unlike stscreds.AssumeRoleProvider, whose session name is fixed
// when it is built, it names each session after what opened it (the
// context's session name), so the member account's CloudTrail shows
// which event or sweep the hub acted for.
type assumeProvider struct {
	sts     AssumeRoleAPI
	roleARN string
}

func (p *assumeProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	name := sessionFrom(ctx)
	out, err := p.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(p.roleARN),
		RoleSessionName: aws.String(name),
		DurationSeconds: aws.Int32(int32(SessionDuration / time.Second)),
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("sts:AssumeRole (session %s): %w", name, err)
	}
	cr := out.Credentials
	if cr == nil || cr.AccessKeyId == nil || cr.SecretAccessKey == nil || cr.Expiration == nil {
		return aws.Credentials{}, fmt.Errorf("sts:AssumeRole (session %s): response without credentials", name)
	}
	return aws.Credentials{
		AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey),
		SessionToken: aws.ToString(cr.SessionToken), Source: "guardrail member role " + p.roleARN,
		CanExpire: true, Expires: *cr.Expiration,
	}, nil
}

type sessionKey struct{}

func withSession(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, sessionKey{}, name)
}

func sessionFrom(ctx context.Context) string {
	if s, _ := ctx.Value(sessionKey{}).(string); s != "" {
		return s
	}
	return SessionName("")
}

// sessionNameLimit and disallowed follow STS's RoleSessionName rules:
// 2 to 64 characters of upper- and lower-case letters, digits and _+=,.@-
// (STS API reference, AssumeRole, RoleSessionName: "Length Constraints:
// Minimum length of 2. Maximum length of 64. Pattern: [\w+=,.@-]*";
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
const sessionNameLimit = 64

var disallowed = regexp.MustCompile(`[^\w+=,.@-]+`)

// SessionName returns the role session name of the hub's session opened
// for what (a CloudTrail event ID and name, or a sweep's schedule event
// ID): "guardrail-" and what, each run of characters STS does not allow
// replaced by '-', cut to 64 characters. The member account's CloudTrail
// records every call of the session under this name
// (userIdentity.arn …:assumed-role/<member role>/<name>), so a reviewer
// finds the event that opened it. A session is reused for later events of
// the same account until it nears expiry, so the name is that of the first.
func SessionName(what string) string {
	name := "guardrail"
	if w := strings.Trim(disallowed.ReplaceAllString(what, "-"), "-"); w != "" {
		name += "-" + w
	}
	if len(name) > sessionNameLimit {
		name = name[:sessionNameLimit]
	}
	return name
}
