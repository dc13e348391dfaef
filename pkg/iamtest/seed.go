package iamtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Role describes a role to seed. Only Name and TrustPolicy are required;
// Path defaults to "/". Seeding bypasses the API rules that IAM applies to
// new writes but that existing roles may break (a bare "Principal": "*",
// NotPrincipal with Allow, a dangling AROA… ID, a path under
// /aws-service-role/ or /aws-reserved/), so tests can build any role a real
// account may hold. It still requires valid JSON, existing attached
// policies, and that role or user ARNs of this account exist — IAM would
// show a deleted one by its unique ID, so seed that ID instead.
type Role struct {
	Name                string
	Path                string
	TrustPolicy         string // JSON, as submitted to CreateRole
	Description         string
	Tags                map[string]string
	AttachedPolicyARNs  []string
	InlinePolicies      map[string]string // name -> JSON document
	PermissionsBoundary string            // managed policy ARN
	MaxSessionDuration  int               // seconds; 0 means 3600
}

// RoleState is the current state of a role, decoded (not URL-encoded).
type RoleState struct {
	Name, Path, ARN, ID string
	CreateDate          time.Time
	Description         string
	MaxSessionDuration  int
	// TrustPolicy is the document as GetRole shows it now: as submitted,
	// with principals that were deleted since shown by unique ID.
	TrustPolicy         string
	AttachedPolicyARNs  []string          // in attach order
	InlinePolicies      map[string]string // name -> document
	PermissionsBoundary string
	Tags                map[string]string
}

// SeedRole creates a role directly in the account, as if it had existed
// before the test, and returns its ARN. It is not an API call: it is not
// counted, not logged and opens no stale-read window.
func (s *Server) SeedRole(r Role) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !roleNameRe.MatchString(r.Name) {
		return "", fmt.Errorf("iamtest: seed role: invalid name %q", r.Name)
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	if !pathRe.MatchString(path) {
		return "", fmt.Errorf("iamtest: seed role %s: invalid path %q", r.Name, path)
	}
	key := strings.ToLower(r.Name)
	if s.st.roles[key] != nil {
		return "", fmt.Errorf("iamtest: seed role %s: already exists", r.Name)
	}
	td, err := s.seedTrust(r.TrustPolicy)
	if err != nil {
		return "", fmt.Errorf("iamtest: seed role %s: trust policy: %w", r.Name, err)
	}
	if len(r.AttachedPolicyARNs) > s.opts.perRoleQuota {
		return "", fmt.Errorf("iamtest: seed role %s: %d attached policies exceed the quota of %d",
			r.Name, len(r.AttachedPolicyARNs), s.opts.perRoleQuota)
	}
	for _, a := range r.AttachedPolicyARNs {
		if s.st.policies[a] == nil {
			return "", fmt.Errorf("iamtest: seed role %s: attached policy %s does not exist", r.Name, a)
		}
	}
	if b := r.PermissionsBoundary; b != "" && s.st.policies[b] == nil {
		return "", fmt.Errorf("iamtest: seed role %s: boundary policy %s does not exist", r.Name, b)
	}
	for n, d := range r.InlinePolicies {
		if !policyNameRe.MatchString(n) {
			return "", fmt.Errorf("iamtest: seed role %s: invalid inline policy name %q", r.Name, n)
		}
		if _, err := parseTree(d); err != nil {
			return "", fmt.Errorf("iamtest: seed role %s: inline policy %s: %w", r.Name, n, err)
		}
	}
	maxS := r.MaxSessionDuration
	if maxS == 0 {
		maxS = defaultRoleMaxSessionDuration
	}
	nr := &role{
		name: r.Name, path: path, id: s.st.newID("AROA"), created: s.opts.clock().UTC().Truncate(time.Second),
		trust: td, description: r.Description, maxSession: maxS,
		tags:     maps.Clone(r.Tags),
		attached: slices.Compact(slices.Clone(r.AttachedPolicyARNs)),
		inline:   maps.Clone(r.InlinePolicies), boundary: r.PermissionsBoundary,
	}
	if nr.tags == nil {
		nr.tags = map[string]string{}
	}
	if nr.inline == nil {
		nr.inline = map[string]string{}
	}
	s.st.putRole(nr)
	return s.st.roleARN(nr), nil
}

// seedTrust stores a seeded trust policy: any syntactically valid JSON
// object; own-account role/user ARNs must exist and are linked by ID, and
// unique IDs are kept as they are (dangling or not).
func (s *Server) seedTrust(doc string) (trustDoc, error) {
	root, err := parseTree(doc)
	if err != nil {
		return trustDoc{}, err
	}
	pd := &parsedDoc{root: root}
	st := root.get("Statement")
	var stmts []*node
	if st != nil && st.kind == 'o' {
		stmts = []*node{st}
	} else if st != nil && st.kind == 'a' {
		stmts = st.items
	}
	for _, stmt := range stmts {
		if stmt.kind != 'o' {
			continue
		}
		for _, el := range []string{"Principal", "NotPrincipal"} {
			p := stmt.get(el)
			if p == nil || p.kind != 'o' {
				continue
			}
			if v := p.get("AWS"); v != nil {
				vals, _ := v.stringsOf()
				for _, n := range vals {
					pd.aws = append(pd.aws, principalRef{value: n.str, start: n.start, end: n.end})
				}
			}
		}
	}
	var refs []idRef
	for _, ref := range pd.aws {
		if uniqueIDRe.MatchString(ref.value) {
			if _, live := s.st.arnOfID(ref.value); live {
				refs = append(refs, idRef{start: ref.start, end: ref.end, id: ref.value})
			}
			continue
		}
		one := &parsedDoc{aws: []principalRef{ref}}
		r, apiErr := s.st.resolveTrust(one)
		if apiErr != nil {
			if arnPrinRe.MatchString(ref.value) {
				return trustDoc{}, fmt.Errorf("principal %s: %s (seed the unique ID to model a deleted principal)", ref.value, apiErr.message)
			}
			continue // malformed values are allowed in seeded legacy documents
		}
		refs = append(refs, r...)
	}
	sortRefs(refs)
	return trustDoc{raw: doc, refs: refs}, nil
}

// SeedUser creates an IAM user (path "/") and returns its ARN, so trust
// policies can name it. Users exist only for that; they have no API here.
func (s *Server) SeedUser(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !roleNameRe.MatchString(name) {
		return "", fmt.Errorf("iamtest: seed user: invalid name %q", name)
	}
	key := strings.ToLower(name)
	if s.st.users[key] != nil {
		return "", fmt.Errorf("iamtest: seed user %s: already exists", name)
	}
	u := &user{name: name, path: "/", id: s.st.newID("AIDA"), created: s.opts.clock().UTC().Truncate(time.Second)}
	s.st.users[key] = u
	s.st.userByID[u.id] = u
	return s.st.userARN(u), nil
}

// DeleteUser removes a seeded user; trust policies that named it then show
// its unique ID. It reports whether the user existed.
func (s *Server) deleteUser(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(name)
	u := s.st.users[key]
	if u == nil {
		return false
	}
	delete(s.st.userByID, u.id)
	delete(s.st.users, key)
	return true
}

// SeedPolicy creates a customer managed policy (path "/") and returns its
// ARN. The document must pass the same checks as CreatePolicy.
func (s *Server) SeedPolicy(name, document string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !policyNameRe.MatchString(name) {
		return "", fmt.Errorf("iamtest: seed policy: invalid name %q", name)
	}
	mp, err := s.in(s.opts.account).addPolicy(name, "/", "", document)
	if err != nil {
		return "", fmt.Errorf("iamtest: seed policy %s: %w", name, err)
	}
	return mp.arn, nil
}

// Role returns the current state of a role (never a stale copy) and
// whether it exists.
func (s *Server) Role(name string) (RoleState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.roles[strings.ToLower(name)]
	if r == nil {
		return RoleState{}, false
	}
	return RoleState{
		Name: r.name, Path: r.path, ARN: s.st.roleARN(r), ID: r.id, CreateDate: r.created,
		Description: r.description, MaxSessionDuration: r.maxSession,
		TrustPolicy:         s.st.renderTrust(r),
		AttachedPolicyARNs:  slices.Clone(r.attached),
		InlinePolicies:      maps.Clone(r.inline),
		PermissionsBoundary: r.boundary,
		Tags:                maps.Clone(r.tags),
	}, true
}

// RoleNames returns the names of all roles, sorted case-insensitively.
func (s *Server) roleNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.st.roles))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.st.roles[k].name
	}
	return out
}

// PolicyDocument returns the document of a managed policy and whether the
// policy exists.
func (s *Server) PolicyDocument(arn string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.st.policies[arn]
	if mp == nil {
		return "", false
	}
	return mp.doc, true
}
