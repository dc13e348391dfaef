package iamtest

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// role is the stored form of an IAM role.
type role struct {
	name, path, id string
	created        time.Time
	trust          trustDoc
	description    string
	maxSession     int
	tags           map[string]string
	attached       []string          // managed policy ARNs, in attach order
	inline         map[string]string // inline policy name -> document as submitted
	boundary       string            // permissions boundary policy ARN
}

// clone returns a deep copy, used for stale-read snapshots.
func (r *role) clone() *role {
	c := *r
	c.trust.refs = slices.Clone(r.trust.refs)
	c.tags = maps.Clone(r.tags)
	c.attached = slices.Clone(r.attached)
	c.inline = maps.Clone(r.inline)
	return &c
}

// protected reports whether only AWS may modify the role: service-linked
// roles (path /aws-service-role/) and IAM Identity Center roles (path
// /aws-reserved/). IAM answers UnmodifiableEntity for changes to them.
func (r *role) protected() bool {
	return strings.HasPrefix(r.path, "/aws-service-role/") || strings.HasPrefix(r.path, "/aws-reserved/")
}

type user struct {
	name, path, id string
	created        time.Time
}

// managedPolicy is a customer or AWS managed policy. doc is the default
// version's document, kept in step with versions.
type managedPolicy struct {
	arn, name, path, id string
	description         string
	doc                 string
	created             time.Time
	updated             time.Time // when the default version last changed
	awsManaged          bool
	serviceRolePolicy   bool            // under aws-service-role/: only attachable to service-linked roles
	versions            []policyVersion // oldest first
	defaultVersion      string
	nextVersion         int // the number of the next version ID (IAM never reuses one)
}

// policyVersion is one stored version of a managed policy.
type policyVersion struct {
	id      string // v1, v2, …
	doc     string // as submitted
	created time.Time
}

// maxPolicyVersions is how many versions a managed policy may have (IAM
// quotas page, "Versions of a managed policy": 5; CreatePolicyVersion
// answers LimitExceeded beyond it).
const maxPolicyVersions = 5

// newManagedPolicy returns a policy whose only version, v1, holds doc.
func newManagedPolicy(arn, name, path, id, desc, doc string, created time.Time) *managedPolicy {
	return &managedPolicy{
		arn: arn, name: name, path: path, id: id, description: desc, doc: doc,
		created: created, updated: created,
		versions:       []policyVersion{{id: "v1", doc: doc, created: created}},
		defaultVersion: "v1", nextVersion: 2,
	}
}

// version returns the version with ID id, or nil.
func (mp *managedPolicy) version(id string) *policyVersion {
	for i := range mp.versions {
		if mp.versions[i].id == id {
			return &mp.versions[i]
		}
	}
	return nil
}

// staleWindow serves prev (nil: the role did not exist) for the next
// remaining reads of a role; remaining < 0 means until reset. In
// StaleIndependent mode each read API has its own count (left, absent
// meaning remaining), as IAM's read APIs are not consistent with each other.
type staleWindow struct {
	prev      *role
	remaining int
	left      map[string]int // StaleIndependent: reads left per read API
	written   time.Time      // when the write happened, for staleFor
}

// state is the account. Every access happens with Server.mu held.
type state struct {
	account   string
	partition string
	roles     map[string]*role // key: lower-case name (IAM names are case-insensitive)
	users     map[string]*user
	policies  map[string]*managedPolicy // key: ARN
	ids       map[string]bool           // every unique ID ever issued
	roleByID  map[string]*role          // live roles by unique ID
	userByID  map[string]*user          // live users by unique ID
	rng       *rand.Rand

	staleDefault int            // stale reads after a write, for roles without their own setting
	staleByRole  map[string]int // per-role setting
	stale        map[string]*staleWindow
	staleMode    StaleMode
	staleFor     time.Duration    // > 0: a window closes this long after its write, reads left or not
	now          func() time.Time // the server's clock (WithClock)
}

func newState(account string, seed uint64) *state {
	st := &state{
		account:     account,
		partition:   "aws",
		roles:       map[string]*role{},
		users:       map[string]*user{},
		policies:    map[string]*managedPolicy{},
		ids:         map[string]bool{},
		roleByID:    map[string]*role{},
		userByID:    map[string]*user{},
		rng:         rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		staleByRole: map[string]int{},
		stale:       map[string]*staleWindow{},
		now:         time.Now,
	}
	st.seedAWSManaged()
	return st
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newID issues a unique ID with IAM's prefix (AROA role, AIDA user, ANPA
// policy) followed by 17 upper-case alphanumerics, the 21-character form
// seen in real CloudTrail records. IDs are never reused, as in IAM.
func (st *state) newID(prefix string) string {
	for {
		b := []byte(prefix)
		for range 17 {
			b = append(b, idChars[st.rng.IntN(len(idChars))])
		}
		id := string(b)
		if !st.ids[id] {
			st.ids[id] = true
			return id
		}
	}
}

func (st *state) roleARN(r *role) string {
	return "arn:" + st.partition + ":iam::" + st.account + ":role" + r.path + r.name
}

func (st *state) userARN(u *user) string {
	return "arn:" + st.partition + ":iam::" + st.account + ":user" + u.path + u.name
}

// arnOfID returns the current ARN of the live role or user with unique ID id.
func (st *state) arnOfID(id string) (string, bool) {
	if r, ok := st.roleByID[id]; ok {
		return st.roleARN(r), true
	}
	if u, ok := st.userByID[id]; ok {
		return st.userARN(u), true
	}
	return "", false
}

func (st *state) putRole(r *role) {
	st.roles[strings.ToLower(r.name)] = r
	st.roleByID[r.id] = r
}

func (st *state) removeRole(key string) {
	if r, ok := st.roles[key]; ok {
		delete(st.roleByID, r.id)
		delete(st.roles, key)
	}
}

// renderTrust returns the role's trust policy as IAM shows it now.
func (st *state) renderTrust(r *role) string {
	return r.trust.render(st.arnOfID)
}

// resolveTrust checks the AWS principals of a parsed trust policy against
// the account and returns the references IAM would store by unique ID.
// IAM rejects a role or user ARN of its own account that does not exist
// ("MalformedPolicyDocument: Invalid principal in policy", see
// repost.aws/knowledge-center/iam-trust-policy-error) and a unique ID that
// names no live principal (observed: Invalid principal in policy:
// "AWS":"AROA…" after the role was deleted). ARNs of other accounts cannot be
// checked here and are accepted.
func (st *state) resolveTrust(pd *parsedDoc) ([]idRef, *apiError) {
	var refs []idRef
	for _, p := range pd.aws {
		v := p.value
		if uniqueIDRe.MatchString(v) {
			if _, ok := st.arnOfID(v); !ok {
				return nil, invalidPrincipal("AWS", v)
			}
			refs = append(refs, idRef{start: p.start, end: p.end, id: v})
			continue
		}
		m := arnPrinRe.FindStringSubmatch(v)
		if m == nil {
			continue // "*" or an account ID
		}
		if m[1] != st.partition {
			return nil, invalidPrincipal("AWS", v)
		}
		if m[3] != st.account {
			continue
		}
		res := m[4]
		var kind string
		switch {
		case strings.HasPrefix(res, "role/"):
			kind = "role"
		case strings.HasPrefix(res, "user/"):
			kind = "user"
		default:
			continue // root, sessions: not IAM entities with unique IDs
		}
		path, name := splitPathName(strings.TrimPrefix(res, kind+"/"))
		id := ""
		if kind == "role" {
			if r := st.roles[strings.ToLower(name)]; r != nil && r.path == path && r.name == name {
				id = r.id
			}
		} else if u := st.users[strings.ToLower(name)]; u != nil && u.path == path && u.name == name {
			id = u.id
		}
		if id == "" {
			return nil, invalidPrincipal("AWS", v)
		}
		refs = append(refs, idRef{start: p.start, end: p.end, id: id})
	}
	sortRefs(refs)
	return refs, nil
}

// splitPathName splits "a/b/name" into ("/a/b/", "name").
func splitPathName(s string) (path, name string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "/", s
	}
	return "/" + s[:i+1], s[i+1:]
}

// staleSetting returns how many reads after a write to the role serve the
// previous state.
func (st *state) staleSetting(key string) int {
	if n, ok := st.staleByRole[key]; ok {
		return n
	}
	return st.staleDefault
}

// recordWrite opens a stale-read window after a successful write to a role:
// prev is the role as it was before the write (nil if it did not exist).
func (st *state) recordWrite(key string, prev *role) {
	n := st.staleSetting(key)
	if n == 0 {
		delete(st.stale, key)
		return
	}
	var snap *role
	if prev != nil {
		snap = prev.clone()
	}
	st.stale[key] = &staleWindow{prev: snap, remaining: n, written: st.now()}
}

// peekRole returns the role as a read by api would see it now, without
// using up a stale read.
func (st *state) peekRole(key, api string) *role {
	if w, ok := st.stale[key]; ok && st.staleActive(w, api) {
		return w.prev
	}
	return st.roles[key]
}

// readRole returns the role as a read by api sees it and uses up one stale
// read: of the role's shared count (StaleCoherent) or of api's own
// (StaleIndependent).
func (st *state) readRole(key, api string) *role {
	w, ok := st.stale[key]
	if ok && st.staleExpired(w) {
		delete(st.stale, key)
		return st.roles[key]
	}
	if !ok || !st.staleActive(w, api) {
		return st.roles[key]
	}
	if st.staleMode == StaleIndependent {
		if n := st.staleLeft(w, api); n > 0 {
			w.left[api] = n - 1
		}
		if !slices.ContainsFunc(staleReadAPIs, func(a string) bool { return st.staleActive(w, a) }) {
			delete(st.stale, key)
		}
		return w.prev
	}
	if w.remaining > 0 {
		w.remaining--
	}
	if w.remaining == 0 {
		delete(st.stale, key)
	}
	return w.prev
}

// staleReadAPIs are the read APIs a stale window applies to.
var staleReadAPIs = []string{"GetRole", "ListRoles", "ListRoleTags", "ListAttachedRolePolicies",
	"ListRolePolicies", "GetRolePolicy", "GetAccountAuthorizationDetails"}

// staleActive reports whether w still serves the previous state to api.
func (st *state) staleActive(w *staleWindow, api string) bool {
	if st.staleExpired(w) {
		return false
	}
	if st.staleMode == StaleIndependent {
		return st.staleLeft(w, api) != 0
	}
	return w.remaining != 0
}

// staleExpired reports whether w is older than the time bound (staleFor),
// after which every read sees the write whatever reads it had left.
func (st *state) staleExpired(w *staleWindow) bool {
	return st.staleFor > 0 && st.now().Sub(w.written) >= st.staleFor
}

// staleLeft is how many stale reads api has left in w (independent mode).
func (st *state) staleLeft(w *staleWindow, api string) int {
	if w.left == nil {
		w.left = map[string]int{}
	}
	if n, ok := w.left[api]; ok {
		return n
	}
	return w.remaining
}

// visibleRoleKeys lists, sorted, the keys of every role a read by api could
// see: live roles and deleted roles still served by a stale window.
func (st *state) visibleRoleKeys(api string) []string {
	keys := make([]string, 0, len(st.roles))
	for k := range st.roles {
		keys = append(keys, k)
	}
	for k, w := range st.stale {
		if _, live := st.roles[k]; !live && st.staleActive(w, api) && w.prev != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// policyAttachments counts the roles a managed policy is attached to and
// the roles using it as permissions boundary.
func (st *state) policyAttachments(arn string) (attached, boundary int) {
	for _, r := range st.roles {
		if slices.Contains(r.attached, arn) {
			attached++
		}
		if r.boundary == arn {
			boundary++
		}
	}
	return attached, boundary
}

// AWS managed policies the stand-in carries so AttachRolePolicy with them
// works as in a real account. Documents are abbreviated where the real one
// is long (ReadOnlyAccess lists hundreds of actions); their ARNs, names and
// paths are the real ones.
var awsManagedPolicies = []struct{ path, name, doc string }{
	{"/", "AdministratorAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
	{"/", "ReadOnlyAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","s3:Get*","s3:List*","ec2:Describe*","lambda:Get*","lambda:List*","logs:Describe*","logs:Get*"],"Resource":"*"}]}`},
	{"/", "PowerUserAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`},
	{"/", "IAMFullAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}`},
	{"/", "AWSDenyAll", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`},
	{"/service-role/", "AWSLambdaBasicExecutionRole", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`},
	{"/aws-service-role/", "AmazonElasticFileSystemServiceRolePolicy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateNetworkInterface","ec2:DeleteNetworkInterface","ec2:DescribeNetworkInterfaces"],"Resource":"*"}]}`},
}

// awsManagedCreated is a fixed create date for AWS managed policies (they
// predate any account).
var awsManagedCreated = time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC)

func (st *state) seedAWSManaged() {
	for _, p := range awsManagedPolicies {
		arn := "arn:" + st.partition + ":iam::aws:policy" + p.path + p.name
		mp := newManagedPolicy(arn, p.name, p.path, st.newID("ANPA"), "", p.doc, awsManagedCreated)
		mp.awsManaged, mp.serviceRolePolicy = true, p.path == "/aws-service-role/"
		st.policies[arn] = mp
	}
}
