package iamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// DefaultAccount is the account ID the stand-in plays unless WithAccount
// says otherwise.
const DefaultAccount = "111122223333"

// Default quotas, as IAM applies them to a new account (IAM and AWS STS
// quotas page; see also shared/reference/aws-facts.md §2.1).
const (
	defaultTrustPolicySizeQuota    = 2048  // role trust policy, non-whitespace characters
	DefaultManagedPoliciesPerRole  = 10    // managed policies attached to one role
	managedPolicySizeQuota         = 6144  // managed policy document, non-whitespace characters
	inlineRolePolicySizeQuota      = 10240 // all inline policies of one role together
	maxRequestBody                 = 1 << 20
	maxCallLog                     = 100_000
	iamAPIVersion                  = "2010-05-08"
	defaultMaxItems                = 100
	maxMaxItems                    = 1000
	staticAccessKeyID              = "AKIAIOSFODNN7EXAMPLE"
	staticSecretAccessKey          = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	defaultRoleMaxSessionDuration  = 3600
	maxTagsPerRole                 = 50
	serviceLinkedRoleNamePrefix    = "AWSServiceRoleFor"
	serviceLinkedRolePathPrefix    = "/aws-service-role/"
	reservedRolePathPrefix         = "/aws-reserved/"
	defaultTrustPolicyVersionLabel = "2012-10-17"
)

// Server is an IAM endpoint on a local HTTP listener that the real
// aws-sdk-go-v2 IAM client talks to. Create it with NewServer and stop it
// with Close. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the endpoint, e.g. http://127.0.0.1:40123,
	// for BaseEndpoint or AWS_ENDPOINT_URL_IAM.
	URL string

	hs   *httptest.Server
	opts options

	mu       sync.Mutex
	st       *state
	calls    map[string]int
	log      []Call
	faults   map[string]*faultState // key: action, "" for every action
	requests uint64
	// accounts holds every account's state, st among them (WithAccounts);
	// sessions the credentials AssumeRole issued, by access key ID.
	accounts map[string]*state
	sessions map[string]*session
	keyRand  *rand.Rand
	// orgPolicies holds the organization's OUs and policies
	// (organizations_policies.go); nil until first used. findings holds
	// what Security Hub's BatchImportFindings imported (securityhub.go).
	orgPolicies *orgPolicies
	findings    []ImportedFinding
}

// Option configures a Server.
type Option func(*options)

type options struct {
	account        string
	trustQuota     int
	perRoleQuota   int
	listener       net.Listener
	logger         *slog.Logger
	clock          func() time.Time
	rejectBareStar bool
	seed           uint64
	staleReads     int
	staleMode      StaleMode
	staleFor       time.Duration
	faults         []Faults
	accounts       []string // WithAccounts: the organization, management first
}

// WithAccount sets the 12-digit account ID the server plays (default
// DefaultAccount). ARNs, and the check that trust-policy principals of
// this account exist, use it.
func WithAccount(id string) Option { return func(o *options) { o.account = id } }

// WithTrustPolicySizeQuota sets the role trust policy size quota in
// non-whitespace characters (default 2048; AWS raises it on request).
func WithTrustPolicySizeQuota(n int) Option { return func(o *options) { o.trustQuota = n } }

// WithManagedPoliciesPerRole sets how many managed policies one role may
// have attached (default 10; AWS raises it to at most 20 on request).
func WithManagedPoliciesPerRole(n int) Option { return func(o *options) { o.perRoleQuota = n } }

// WithListener serves on l instead of a new random port on 127.0.0.1; the
// server takes ownership of l. guardrail iam-local uses it for --addr.
func WithListener(l net.Listener) Option { return func(o *options) { o.listener = l } }

// WithLogger logs one line per API call (action, role, status, error code,
// duration) on l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for create dates and for the age of
// stale-read windows (WithStaleFor) (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithSeed seeds the generator of unique IDs (AROA…, AIDA…, ANPA…) so that a
// test run issues the same IDs every time (default 1).
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithBareWildcardPrincipalRejected makes trust policies with a bare
// "Principal": "*" fail with MalformedPolicyDocument, as IAM was reported to
// do (aws/aws-cdk#5746, 2020; hashicorp/terraform-provider-aws#4248, 2018).
// Current AWS documentation treats "*" and {"AWS":"*"} as equivalent and the
// behaviour could not be confirmed, so by default the server accepts it.
func WithBareWildcardPrincipalRejected() Option { return func(o *options) { o.rejectBareStar = true } }

// NewServer starts an IAM endpoint and returns it. Without WithListener it
// listens on a random port of 127.0.0.1. The account starts with the AWS
// managed policies AdministratorAccess, ReadOnlyAccess, PowerUserAccess,
// IAMFullAccess, AWSDenyAll and service-role/AWSLambdaBasicExecutionRole.
func NewServer(opts ...Option) *Server {
	o := options{
		account:      DefaultAccount,
		trustQuota:   defaultTrustPolicySizeQuota,
		perRoleQuota: DefaultManagedPoliciesPerRole,
		clock:        time.Now,
		seed:         1,
	}
	for _, fn := range opts {
		fn(&o)
	}
	s := &Server{
		opts:   o,
		st:     newState(o.account, o.seed),
		calls:  map[string]int{},
		faults: map[string]*faultState{},
	}
	s.st.staleDefault, s.st.staleMode = o.staleReads, o.staleMode
	s.st.staleFor, s.st.now = o.staleFor, o.clock
	s.keyRand = rand.New(rand.NewPCG(o.seed, 0x5354535354535354))
	s.setupAccounts()
	for _, f := range o.faults {
		if err := s.SetFaults(f); err != nil {
			panic(err)
		}
	}
	s.hs = httptest.NewUnstartedServer(s)
	if o.listener != nil {
		s.hs.Listener.Close()
		s.hs.Listener = o.listener
	}
	s.hs.Start()
	s.URL = s.hs.URL
	return s
}

// Close stops the server and waits for calls in flight to finish.
func (s *Server) Close() { s.hs.Close() }

// Account returns the account ID the server plays.
func (s *Server) Account() string { return s.opts.account }

// Config returns an aws.Config for this server: BaseEndpoint set to URL,
// region us-east-1 and static dummy credentials. It is test-side wiring;
// product code reaches the server through AWS_ENDPOINT_URL_IAM instead.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(staticAccessKeyID, staticSecretAccessKey, ""),
	}
}

// Client returns a real IAM client that talks to this server.
func (s *Server) Client(optFns ...func(*iam.Options)) *iam.Client {
	return iam.NewFromConfig(s.Config(), optFns...)
}

// Call is one API request the server received.
type Call struct {
	Action    string // e.g. "GetRole"
	RoleName  string // the RoleName parameter, if any
	PolicyARN string // the PolicyArn parameter, if any
	Status    int    // HTTP status answered
	ErrorCode string // IAM error code, "" on success
	Injected  bool   // the error was injected by SetFaults
	Caller    string // the access key ID that signed the request
	// Account is the account the call acted in: the one the caller's
	// credentials belong to ("" when they were refused).
	Account  string
	Duration time.Duration // time spent serving it, injected latency included
}

// writeActions are the mutating actions WriteCalls counts.
var writeActions = map[string]bool{
	"CreateRole": true, "DeleteRole": true, "UpdateRole": true, "UpdateAssumeRolePolicy": true,
	"TagRole": true, "UntagRole": true, "CreatePolicy": true, "DeletePolicy": true,
	"AttachRolePolicy": true, "DetachRolePolicy": true, "PutRolePolicy": true, "DeleteRolePolicy": true,
	"PutRolePermissionsBoundary": true, "DeleteRolePermissionsBoundary": true, "CreateServiceLinkedRole": true,
	"CreatePolicyVersion": true, "SetDefaultPolicyVersion": true, "DeletePolicyVersion": true,
}

// IsWriteAction reports whether action changes IAM state.
func IsWriteAction(action string) bool { return writeActions[action] }

// Calls returns how many requests for action the server received since the
// start or the last ResetCalls, whatever their outcome (an SDK retry is a
// second request). Calls("") counts every action.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if action == "" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[action]
}

// WriteCalls returns how many requests for mutating actions the server
// received, whatever their outcome. A test that expects an evaluation to
// change nothing asserts WriteCalls() == 0.
func (s *Server) WriteCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for a, c := range s.calls {
		if writeActions[a] {
			n += c
		}
	}
	return n
}

// ResetCalls sets every call counter to zero and empties the call log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.log = nil
}

// CallLog returns the requests received since the last ResetCalls, oldest
// first (at most the latest 100,000), so a test can check the order of
// writes.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.log...)
}

// SetStaleReads makes reads of a role return its previous state after a
// write, the way IAM's eventual consistency can: after each successful
// write to the role, the next n reads (GetRole, ListRoles,
// ListAttachedRolePolicies, ListRolePolicies, GetRolePolicy, and
// GetAccountAuthorizationDetails pages that include the role) see the role
// as it was before that write — not existing at all after CreateRole, still
// existing after DeleteRole. roleName "" sets the default for every role
// without its own setting; n = 0 turns it off; n < 0 keeps serving the
// previous state until SetStaleReads is called again. Windows already open
// keep their count. Whether the n reads are shared by every read API or
// counted per API is the StaleMode (SetStaleMode, WithStaleMode).
func (s *Server) SetStaleReads(roleName string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if roleName == "" {
		s.st.staleDefault = n
		if n == 0 {
			clear(s.st.stale)
		}
		return
	}
	key := strings.ToLower(roleName)
	s.st.staleByRole[key] = n
	if n == 0 {
		delete(s.st.stale, key)
	}
}

// Faults describes errors and latency to inject. Each matching call first
// waits Latency, then draws one number from a generator seeded with Seed:
// with probability ThrottleRate it is answered Throttling (HTTP 400, "Rate
// exceeded", as IAM throttles), with ServerErrorRate ServiceFailure (HTTP
// 500), with UnavailableRate ServiceUnavailable (HTTP 503); otherwise it is
// served normally. An injected error changes no state. The rates must add
// up to at most 1; a rate of 1 fails every call.
type Faults struct {
	Action          string // "" for every action without its own Faults
	ThrottleRate    float64
	ServerErrorRate float64
	UnavailableRate float64
	Latency         time.Duration
	Seed            uint64
}

type faultState struct {
	f   Faults
	rng *rand.Rand
}

// SetFaults installs f for f.Action, replacing what was set for it before.
// The same Seed and the same sequence of calls give the same outcomes.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f.Action] = &faultState{f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x5DEECE66D))}
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// drawFault decides the injected outcome of one call. Called with mu held.
func (s *Server) drawFault(action string) (time.Duration, *apiError) {
	fs, ok := s.faults[action]
	if !ok {
		fs, ok = s.faults[""]
	}
	if !ok {
		return 0, nil
	}
	f := fs.f
	x := fs.rng.Float64()
	switch {
	case x < f.ThrottleRate:
		return f.Latency, newErr(http.StatusBadRequest, codeThrottling, "Rate exceeded")
	case x < f.ThrottleRate+f.ServerErrorRate:
		return f.Latency, newErr(http.StatusInternalServerError, codeServiceFailure,
			"The request processing has failed because of an unknown error, exception or failure.")
	case x < f.ThrottleRate+f.ServerErrorRate+f.UnavailableRate:
		return f.Latency, newErr(http.StatusServiceUnavailable, codeServiceUnavailable, "Service is unavailable")
	}
	return f.Latency, nil
}

// ServeHTTP answers one request: IAM or STS (query protocol, told apart by
// the service of the SigV4 credential scope) or Organizations (JSON 1.1).
// IAM and STS act in the account the signing credentials belong to.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.mu.Lock()
	s.requests++
	reqID := requestID(s.requests)
	s.mu.Unlock()

	switch service(r) {
	case "organizations":
		s.serveJSON(w, r, reqID, start)
		return
	case "securityhub":
		s.serveSecurityHub(w, r, reqID)
		return
	}
	action, account := "", ""
	body, apiErr, injected, sts := "", (*apiError)(nil), false, false
	defer func() {
		status := http.StatusOK
		code := ""
		if apiErr != nil {
			status, code = apiErr.status, apiErr.code
			body = errorBody(apiErr, reqID)
			if sts {
				body = stsErrorBody(apiErr, reqID)
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", reqID)
		// IAM sends a Content-Length, not a chunked body.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		s.finish(r, action, account, status, code, injected, time.Since(start))
	}()

	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		apiErr = newErr(http.StatusMethodNotAllowed, codeInvalidAction, "Method %s is not supported", r.Method)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		apiErr = errInvalidInput("Could not parse the request: %v", err)
		return
	}
	action = r.Form.Get("Action")
	// STS shares the query protocol: its actions signed for the sts service
	// go to STS; anything else must be IAM, signed for iam.
	if sts = service(r) == "sts" && stsActions[action]; sts {
		s.mu.Lock()
		defer s.mu.Unlock() // released before the deferred response is written
		if apiErr = checkAuth(r, "sts"); apiErr != nil {
			return
		}
		id, err := s.caller(r)
		if apiErr = err; err != nil {
			return
		}
		account = id.account
		s.calls[action]++
		result, err := s.serveSTS(r, id)
		if apiErr = err; err == nil {
			body = stsSuccessBody(action, reqID, result)
		}
		return
	}
	if apiErr = checkAuth(r, "iam"); apiErr != nil {
		return
	}
	spec, ok := actions[action]
	if action == "" || !ok || r.Form.Get("Version") != iamAPIVersion {
		apiErr = newErr(http.StatusBadRequest, codeInvalidAction,
			"Could not find operation %s for version %s", action, r.Form.Get("Version"))
		return
	}

	s.mu.Lock()
	id, err := s.caller(r)
	if err != nil {
		s.mu.Unlock()
		apiErr = err
		return
	}
	account = id.account
	s.calls[action]++
	delay, fault := s.drawFault(action)
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if fault != nil {
		apiErr, injected = fault, true
		return
	}

	// The result is rendered with the lock held: it reads live state.
	s.mu.Lock()
	result, err := spec(s.in(account), params(r.Form))
	if err == nil {
		body = successBody(action, reqID, result)
	}
	s.mu.Unlock()
	apiErr = err
}

// serveJSON answers an Organizations (JSON 1.1) request.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) {
	op, account, status, body := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), orgTargetPrefix), "", 0, []byte(nil)
	s.mu.Lock()
	id, err := s.caller(r)
	if err == nil {
		s.calls[op]++
	}
	s.mu.Unlock()
	switch {
	case r.Method != http.MethodPost:
		status, body = http.StatusMethodNotAllowed, []byte(`{"__type":"UnknownOperationException","Message":"Only POST is supported."}`)
	case err != nil:
		status, body = err.status, []byte(`{"__type":"UnrecognizedClientException","Message":"The security token included in the request is invalid."}`)
	default:
		account = id.account
		op, status, body = s.serveOrganizations(r, id)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	code := ""
	if status != http.StatusOK {
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(body, &e)
		code = e.Type
	}
	s.finish(r, op, account, status, code, false, time.Since(start))
}

// finish records and logs a call.
func (s *Server) finish(r *http.Request, action, account string, status int, code string, injected bool, d time.Duration) {
	c := Call{
		Action: action, RoleName: r.Form.Get("RoleName"), PolicyARN: r.Form.Get("PolicyArn"),
		Status: status, ErrorCode: code, Injected: injected, Duration: d, Caller: accessKeyID(r), Account: account,
	}
	if _, known := actions[action]; known || stsActions[action] || orgActions[action] {
		s.mu.Lock()
		if len(s.log) >= maxCallLog {
			s.log = append(s.log[:0], s.log[len(s.log)-maxCallLog+1:]...)
		}
		s.log = append(s.log, c)
		s.mu.Unlock()
	}
	if s.opts.logger != nil {
		attrs := []slog.Attr{
			slog.String("action", action), slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		}
		if s.organization() && account != "" {
			attrs = append(attrs, slog.String("account", account))
		}
		if c.RoleName != "" {
			attrs = append(attrs, slog.String("role", c.RoleName))
		}
		if c.PolicyARN != "" {
			attrs = append(attrs, slog.String("policy_arn", c.PolicyARN))
		}
		if code != "" {
			attrs = append(attrs, slog.String("error", code), slog.Bool("injected", injected))
		}
		s.opts.logger.LogAttrs(context.Background(), slog.LevelInfo, "iam call", attrs...)
	}
}

// checkAuth requires a Signature Version 4 Authorization header for svc
// (iam or sts), as IAM and STS do; the signature itself is not verified.
// Who signed is resolved from the access key (Server.caller).
func checkAuth(r *http.Request, svc string) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return newErr(http.StatusForbidden, codeMissingAuthToken, "Request is missing Authentication Token")
	}
	if !strings.HasPrefix(h, "AWS4-HMAC-SHA256 ") || !strings.Contains(h, "/"+svc+"/aws4_request") {
		return newErr(http.StatusForbidden, "IncompleteSignature",
			"Authorization header requires a Signature Version 4 credential scope for the %s service", svc)
	}
	return nil
}

// stsActions are the STS operations the server implements; their calls
// are logged like IAM's (orgActions: Organizations').
var stsActions = map[string]bool{"AssumeRole": true, "GetCallerIdentity": true}

// accessKeyID returns the access key ID of a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKIA…/date/region/iam/aws4_request, …"), or "".
func accessKeyID(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}

// requestID formats a request counter as a UUID, the form IAM uses.
func requestID(n uint64) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
}
