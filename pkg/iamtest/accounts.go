package iamtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// acct is the server seen from one account: that account's IAM state, with
// the server's options, lock and counters. Its st field shadows the
// Server's (the management account's), so an IAM action run on an acct
// reads and writes only the account the caller's credentials act in.
type acct struct {
	*Server
	st *state
}

// OrganizationAccessRole is the role AWS Organizations creates in every
// account it creates, trusting the management account and holding
// AdministratorAccess (AWS Organizations User Guide, "Accessing a member
// account that has a management account access role",
// https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_create-cross-account-role.html).
const organizationAccessRole = "OrganizationAccountAccessRole"

// WithAccounts makes the server play an AWS Organization of these 12-digit
// accounts behind its one URL, with STS (AWS_ENDPOINT_URL_STS) and
// Organizations (AWS_ENDPOINT_URL_ORGANIZATIONS) on the same address. The
// first account is the management account: it replaces WithAccount, the
// static credentials of Config act in it (as its root user), and the
// seeding and inspection methods (SeedRole, Role, …) work on it. Every
// other account starts with the AWS managed policies and
// OrganizationAccountAccessRole trusting the management account, as AWS
// Organizations creates it, so a test sets a member account up through
// STS AssumeRole and that account's IAM API, the way an operator would.
//
// Credentials that AssumeRole issues act in the role's account only, and
// unknown access keys are refused with InvalidClientTokenId, as STS and IAM
// refuse them (in single-account mode any long-term key acts in the one
// account, as before).
func WithAccounts(ids ...string) Option {
	return func(o *options) {
		o.accounts = append([]string(nil), ids...)
		if len(ids) > 0 {
			o.account = ids[0]
		}
	}
}

// identity is who signed a request: the management account's root user
// (long-term keys) or a role session that this server issued.
type identity struct {
	account string
	arn     string // arn:aws:iam::A:root or arn:aws:sts::A:assumed-role/R/S
	userID  string // GetCallerIdentity's UserId
	roleARN string // the session's role (path included); "" for the root user
	chained bool   // the session was issued to another role session
	// service is set instead of the rest for an AWS service principal
	// (ServiceCredentials).
	service string
}

// session is one set of temporary credentials issued by AssumeRole.
type session struct {
	identity
	secret, token string
	expires       time.Time
}

// setupAccounts builds the member accounts of WithAccounts. Called by
// NewServer before serving.
func (s *Server) setupAccounts() {
	s.accounts = map[string]*state{s.opts.account: s.st}
	s.sessions = map[string]*session{}
	for i, id := range s.opts.accounts {
		if i == 0 || s.accounts[id] != nil {
			continue
		}
		st := newState(id, s.opts.seed+uint64(i)*0x100000001)
		st.staleDefault, st.staleMode, st.staleFor, st.now = s.st.staleDefault, s.st.staleMode, s.st.staleFor, s.st.now
		s.accounts[id] = st
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + s.opts.account + `:root"},"Action":"sts:AssumeRole"}]}`
		r := &role{
			name: organizationAccessRole, path: "/", id: st.newID("AROA"), created: s.opts.clock().UTC().Truncate(time.Second),
			trust: trustDoc{raw: trust}, maxSession: defaultRoleMaxSessionDuration,
			tags: map[string]string{}, inline: map[string]string{},
			attached: []string{"arn:aws:iam::aws:policy/AdministratorAccess"},
		}
		st.putRole(r)
	}
}

// organization reports whether the server plays an organization.
func (s *Server) organization() bool { return len(s.opts.accounts) > 0 }

// orgID is the organization's ID, derived from the management account so
// that it is stable across runs: "o-" and 10 lowercase letters or digits
// (Organizations API reference, Organization.Id pattern ^o-[a-z0-9]{10,32}$).
func (s *Server) orgID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	h := uint64(14695981039346656037)
	for _, c := range s.opts.account {
		h = (h ^ uint64(c)) * 1099511628211
	}
	b := []byte("o-")
	for range 10 {
		b = append(b, chars[h%uint64(len(chars))])
		h /= uint64(len(chars))
		h = h*6364136223846793005 + 1442695040888963407
	}
	return string(b)
}

// caller resolves the credentials that signed r. Called with mu held.
// Temporary keys (ASIA…) must be ones this server issued and not expired;
// the session token must match. In organization mode the only long-term
// key is the static one of Config.
func (s *Server) caller(r *http.Request) (identity, *apiError) {
	key := accessKeyID(r)
	if strings.HasPrefix(key, "ASIA") {
		sess := s.sessions[key]
		if sess == nil || r.Header.Get("X-Amz-Security-Token") != sess.token {
			return identity{}, errInvalidToken()
		}
		if !s.opts.clock().Before(sess.expires) {
			return identity{}, newErr(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
		}
		return sess.identity, nil
	}
	if s.organization() && key != staticAccessKeyID {
		return identity{}, errInvalidToken()
	}
	a := s.opts.account
	return identity{account: a, arn: "arn:aws:iam::" + a + ":root", userID: a}, nil
}

// errInvalidToken is how STS and IAM refuse an access key they do not
// know: InvalidClientTokenId, HTTP 403 (STS API reference, Common Errors).
func errInvalidToken() *apiError {
	return newErr(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

// in returns the account view of id, or nil when the server does not play it.
func (s *Server) in(id string) *acct {
	st := s.accounts[id]
	if st == nil {
		return nil
	}
	return &acct{Server: s, st: st}
}

// service returns the service of a SigV4 Authorization header's credential
// scope (Credential=KEY/DATE/REGION/SERVICE/aws4_request), or "".
func service(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return ""
	}
	return parts[3]
}

func (id identity) String() string { return fmt.Sprintf("%s (account %s)", id.arn, id.account) }
