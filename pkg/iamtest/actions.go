package iamtest

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// actionFunc serves one IAM action with Server.mu held. It returns the body
// of the <ActionResult> element (nil for actions without output) or an
// IAM error. It changes state only when it returns no error.
type actionFunc func(s *acct, p params) (func(*xmlWriter), *apiError)

// actions are the IAM actions the stand-in implements.
var actions map[string]actionFunc

func init() {
	actions = map[string]actionFunc{
		"CreateRole":                     (*acct).createRole,
		"GetRole":                        (*acct).getRole,
		"DeleteRole":                     (*acct).deleteRole,
		"UpdateRole":                     (*acct).updateRole,
		"UpdateAssumeRolePolicy":         (*acct).updateAssumeRolePolicy,
		"ListRoles":                      (*acct).listRoles,
		"TagRole":                        (*acct).tagRole,
		"UntagRole":                      (*acct).untagRole,
		"ListRoleTags":                   (*acct).listRoleTags,
		"CreatePolicy":                   (*acct).createPolicy,
		"GetPolicy":                      (*acct).getPolicy,
		"GetPolicyVersion":               (*acct).getPolicyVersion,
		"CreatePolicyVersion":            (*acct).createPolicyVersion,
		"SetDefaultPolicyVersion":        (*acct).setDefaultPolicyVersion,
		"DeletePolicyVersion":            (*acct).deletePolicyVersion,
		"ListPolicyVersions":             (*acct).listPolicyVersions,
		"DeletePolicy":                   (*acct).deletePolicy,
		"AttachRolePolicy":               (*acct).attachRolePolicy,
		"DetachRolePolicy":               (*acct).detachRolePolicy,
		"ListAttachedRolePolicies":       (*acct).listAttachedRolePolicies,
		"PutRolePolicy":                  (*acct).putRolePolicy,
		"GetRolePolicy":                  (*acct).getRolePolicy,
		"ListRolePolicies":               (*acct).listRolePolicies,
		"DeleteRolePolicy":               (*acct).deleteRolePolicy,
		"PutRolePermissionsBoundary":     (*acct).putRolePermissionsBoundary,
		"DeleteRolePermissionsBoundary":  (*acct).deleteRolePermissionsBoundary,
		"GetAccountAuthorizationDetails": (*acct).getAccountAuthorizationDetails,
		"CreateServiceLinkedRole":        (*acct).createServiceLinkedRole,
	}
}

// Actions lists the IAM actions the server implements, sorted.
func implementedActions() []string {
	return slices.Sorted(maps.Keys(actions))
}

func errRoleNotFound(name string) *apiError {
	return errNoSuchEntity("The role with name %s cannot be found.", name)
}

// liveRole returns the current role for a write, refusing protected roles.
func (s *acct) liveRole(name string) (*role, *apiError) {
	r := s.st.roles[strings.ToLower(name)]
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	if r.protected() {
		return nil, errProtected(r.name)
	}
	return r, nil
}

// mutate applies fn to a role and, when fn succeeds and changed something,
// opens the stale-read window with the state before the change.
func (s *acct) mutate(name string, fn func(r *role) (changed bool, err *apiError)) *apiError {
	r, err := s.liveRole(name)
	if err != nil {
		return err
	}
	prev := r.clone()
	changed, err := fn(r)
	if err != nil {
		*r = *prev // fn must not leave a half-applied change behind
		return err
	}
	if changed {
		s.st.recordWrite(strings.ToLower(r.name), prev)
	}
	return nil
}

// checkTrust validates a trust policy for CreateRole/UpdateAssumeRolePolicy
// and resolves its principals: grammar (MalformedPolicyDocument), size
// quota, then principal existence.
func (s *acct) checkTrust(doc string) (trustDoc, *apiError) {
	pd, err := validateDoc(doc, trustPolicy)
	if err != nil {
		return trustDoc{}, err
	}
	if pd.bareStar && s.opts.rejectBareStar {
		return trustDoc{}, errMalformed(`AssumeRolepolicy contained an invalid principal: "STAR":"*".`)
	}
	// An oversized trust policy is LimitExceeded (409), not
	// MalformedPolicyDocument: observed "LimitExceeded: Cannot exceed quota
	// for ACLSizePerRole: 2048" (kubeflow/kubeflow#6687, apache/airflow#27331).
	if n := policySize(doc); n > s.opts.trustQuota {
		return trustDoc{}, errLimit("Cannot exceed quota for ACLSizePerRole: %d", s.opts.trustQuota)
	}
	refs, err := s.st.resolveTrust(pd)
	if err != nil {
		return trustDoc{}, err
	}
	return trustDoc{raw: doc, refs: refs}, nil
}

func checkIdentityDoc(doc string) *apiError {
	_, err := validateDoc(doc, identityPolicy)
	return err
}

func maxSession(p params, def int) (int, *apiError) {
	if !p.has("MaxSessionDuration") {
		return def, nil
	}
	v := p.str("MaxSessionDuration")
	n, err := strconv.Atoi(v)
	if err != nil || n < 3600 || n > 43200 {
		return 0, constraintErr(v, "maxSessionDuration", "Member must have value between 3600 and 43200")
	}
	return n, nil
}

func description(p params) (string, *apiError) {
	d := p.str("Description")
	if utf8.RuneCountInString(d) > 1000 {
		return "", constraintErr(d, "description", "Member must have length less than or equal to 1000")
	}
	return d, nil
}

// --- roles ---------------------------------------------------------------

func (s *acct) createRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	doc, err := p.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")
	if err != nil {
		return nil, err
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, serviceLinkedRolePathPrefix) || strings.HasPrefix(path, reservedRolePathPrefix) {
		return nil, errInvalidInput("The path %s is reserved for roles created by AWS.", path)
	}
	desc, err := description(p)
	if err != nil {
		return nil, err
	}
	maxS, err := maxSession(p, defaultRoleMaxSessionDuration)
	if err != nil {
		return nil, err
	}
	tags, err := p.tags()
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTagsPerRole {
		return nil, errLimit("Cannot exceed quota for TagsPerRole: %d", maxTagsPerRole)
	}
	boundary := ""
	if p.has("PermissionsBoundary") {
		if boundary, err = s.boundaryPolicy(p.str("PermissionsBoundary")); err != nil {
			return nil, err
		}
	}
	key := strings.ToLower(name)
	if s.st.roles[key] != nil {
		return nil, errAlreadyExists("Role with name %s already exists.", name)
	}
	td, err := s.checkTrust(doc)
	if err != nil {
		return nil, err
	}
	r := &role{
		name: name, path: path, id: s.st.newID("AROA"), created: s.opts.clock().UTC().Truncate(1e9),
		trust: td, description: desc, maxSession: maxS, tags: map[string]string{},
		inline: map[string]string{}, boundary: boundary,
	}
	for _, t := range tags {
		r.tags[t.key] = t.value
	}
	s.st.putRole(r)
	s.st.recordWrite(key, nil)
	return func(w *xmlWriter) { s.writeRole(w, "Role", r, roleFull) }, nil
}

// roleView selects the members a response shows: ListRoles omits
// PermissionsBoundary, RoleLastUsed and Tags (IAM API reference, ListRoles).
type roleView int

const (
	roleFull roleView = iota
	roleListed
)

func (s *acct) writeRole(w *xmlWriter, elem string, r *role, v roleView) {
	w.open(elem)
	w.elem("Path", r.path)
	w.elem("RoleName", r.name)
	w.elem("RoleId", r.id)
	w.elem("Arn", s.st.roleARN(r))
	w.timestamp("CreateDate", r.created)
	w.elem("AssumeRolePolicyDocument", encodeRFC3986(s.st.renderTrust(r)))
	w.elemIf("Description", r.description)
	w.integer("MaxSessionDuration", r.maxSession)
	if v == roleFull {
		if r.boundary != "" {
			w.open("PermissionsBoundary")
			w.elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
			w.elem("PermissionsBoundaryArn", r.boundary)
			w.close("PermissionsBoundary")
		}
		writeTags(w, r.tags)
		w.open("RoleLastUsed")
		w.close("RoleLastUsed")
	}
	w.close(elem)
}

func writeTags(w *xmlWriter, tags map[string]string) {
	if len(tags) == 0 {
		return
	}
	w.open("Tags")
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		w.open("member")
		w.elem("Key", k)
		w.elem("Value", tags[k])
		w.close("member")
	}
	w.close("Tags")
}

func (s *acct) getRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	r := s.st.readRole(strings.ToLower(name), "GetRole")
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	return func(w *xmlWriter) { s.writeRole(w, "Role", r, roleFull) }, nil
}

func (s *acct) deleteRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	r, err := s.liveRole(name)
	if err != nil {
		return nil, err
	}
	// IAM refuses to delete a role that still has policies (DeleteRole API
	// reference: detach managed policies and delete inline ones first).
	if len(r.attached) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must detach all policies first.")
	}
	if len(r.inline) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must delete policies first.")
	}
	key := strings.ToLower(r.name)
	s.st.removeRole(key)
	s.st.recordWrite(key, r)
	return nil, nil
}

func (s *acct) updateRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	return func(*xmlWriter) {}, s.mutate(name, func(r *role) (bool, *apiError) {
		if p.has("Description") {
			d, err := description(p)
			if err != nil {
				return false, err
			}
			r.description = d
		}
		n, err := maxSession(p, r.maxSession)
		if err != nil {
			return false, err
		}
		r.maxSession = n
		return true, nil
	})
}

func (s *acct) updateAssumeRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	doc, err := p.required("PolicyDocument", "policyDocument")
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		td, err := s.checkTrust(doc)
		if err != nil {
			return false, err
		}
		r.trust = td
		return true, nil
	})
}

func (s *acct) listRoles(p params) (func(*xmlWriter), *apiError) {
	prefix, err := p.pathPrefix()
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range s.st.visibleRoleKeys("ListRoles") {
		if r := s.st.peekRole(k, "ListRoles"); r != nil && strings.HasPrefix(r.path, prefix) {
			keys = append(keys, k)
		}
	}
	pg, err := p.paginate(keys)
	if err != nil {
		return nil, err
	}
	roles := make([]*role, 0, pg.end-pg.start)
	for _, k := range keys[pg.start:pg.end] {
		roles = append(roles, s.st.readRole(k, "ListRoles"))
	}
	return func(w *xmlWriter) {
		w.open("Roles")
		for _, r := range roles {
			s.writeRole(w, "member", r, roleListed)
		}
		w.close("Roles")
		w.pageInfo(pg)
	}, nil
}

func (s *acct) tagRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	tags, err := p.tags()
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, errValidation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		for _, t := range tags {
			r.tags[t.key] = t.value
		}
		if len(r.tags) > maxTagsPerRole {
			return false, errLimit("Cannot exceed quota for TagsPerRole: %d", maxTagsPerRole)
		}
		return true, nil
	})
}

func (s *acct) untagRole(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	keys := p.list("TagKeys")
	if len(keys) == 0 {
		return nil, errValidation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		for _, k := range keys {
			delete(r.tags, k)
		}
		return true, nil
	})
}

func (s *acct) listRoleTags(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	r := s.st.readRole(strings.ToLower(name), "ListRoleTags")
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	keys := slices.Sorted(maps.Keys(r.tags))
	return p.memberPage(keys, "Tags", func(w *xmlWriter, k string) {
		w.elem("Key", k)
		w.elem("Value", r.tags[k])
	})
}

// --- managed policies ------------------------------------------------------

func (s *acct) createPolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.policyName()
	if err != nil {
		return nil, err
	}
	doc, err := p.required("PolicyDocument", "policyDocument")
	if err != nil {
		return nil, err
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	desc, err := description(p)
	if err != nil {
		return nil, err
	}
	if _, err := p.tags(); err != nil {
		return nil, err
	}
	mp, err := s.addPolicy(name, path, desc, doc)
	if err != nil {
		return nil, err
	}
	return func(w *xmlWriter) { s.writePolicy(w, "Policy", mp); w.close("Policy") }, nil
}

// addPolicy creates a customer managed policy. Names are unique per
// account whatever the path, compared case-insensitively.
func (s *acct) addPolicy(name, path, desc, doc string) (*managedPolicy, *apiError) {
	for _, mp := range s.st.policies {
		if !mp.awsManaged && strings.EqualFold(mp.name, name) {
			return nil, errAlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		}
	}
	if err := checkIdentityDoc(doc); err != nil {
		return nil, err
	}
	if policySize(doc) > managedPolicySizeQuota {
		return nil, errLimit("Cannot exceed quota for PolicySize: %d", managedPolicySizeQuota)
	}
	arn := "arn:" + s.st.partition + ":iam::" + s.st.account + ":policy" + path + name
	mp := newManagedPolicy(arn, name, path, s.st.newID("ANPA"), desc, doc, s.opts.clock().UTC().Truncate(1e9))
	s.st.policies[arn] = mp
	return mp, nil
}

// writePolicy opens elem and writes a managed policy's members; the caller
// closes elem (GetAccountAuthorizationDetails adds the version list first).
func (s *acct) writePolicy(w *xmlWriter, elem string, mp *managedPolicy) {
	attached, boundary := s.st.policyAttachments(mp.arn)
	w.open(elem)
	w.elem("PolicyName", mp.name)
	w.elem("PolicyId", mp.id)
	w.elem("Arn", mp.arn)
	w.elem("Path", mp.path)
	w.elem("DefaultVersionId", mp.defaultVersion)
	w.integer("AttachmentCount", attached)
	w.integer("PermissionsBoundaryUsageCount", boundary)
	w.boolean("IsAttachable", true)
	w.elemIf("Description", mp.description)
	w.timestamp("CreateDate", mp.created)
	w.timestamp("UpdateDate", mp.updated)
}

func (s *acct) policyNotFound(arn string) *apiError {
	return errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

func (s *acct) getPolicy(p params) (func(*xmlWriter), *apiError) {
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	mp := s.st.policies[arn]
	if mp == nil {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	return func(w *xmlWriter) { s.writePolicy(w, "Policy", mp); w.close("Policy") }, nil
}

func (s *acct) getPolicyVersion(p params) (func(*xmlWriter), *apiError) {
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	ver, err := p.required("VersionId", "versionId")
	if err != nil {
		return nil, err
	}
	mp := s.st.policies[arn]
	if mp == nil {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	v := mp.version(ver)
	if v == nil {
		return nil, errNoSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, ver)
	}
	return func(w *xmlWriter) {
		w.open("PolicyVersion")
		writeVersion(w, mp, v, true)
		w.close("PolicyVersion")
	}, nil
}

// writeVersion writes a policy version's members, with its document when
// withDoc (GetPolicyVersion, GetAccountAuthorizationDetails; not
// ListPolicyVersions, whose versions carry no document).
func writeVersion(w *xmlWriter, mp *managedPolicy, v *policyVersion, withDoc bool) {
	if withDoc {
		w.elem("Document", encodeRFC3986(v.doc))
	}
	w.elem("VersionId", v.id)
	w.boolean("IsDefaultVersion", v.id == mp.defaultVersion)
	w.timestamp("CreateDate", v.created)
}

// customerPolicy returns the customer managed policy named by PolicyArn for
// a change (verb "modify" or "delete", as IAM's message words it); AWS
// managed policies cannot be changed.
func (s *acct) customerPolicy(p params, verb string) (*managedPolicy, *apiError) {
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	mp := s.st.policies[arn]
	if mp == nil {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	if mp.awsManaged {
		return nil, errInvalidInput("Cannot %s AWS managed policy %s.", verb, arn)
	}
	return mp, nil
}

// versionID reads and checks a VersionId parameter (IAM API reference:
// pattern v[1-9][0-9]*(\.[A-Za-z0-9-]*)?).
func versionID(p params) (string, *apiError) {
	v, err := p.required("VersionId", "versionId")
	if err != nil {
		return "", err
	}
	if !versionIDRe.MatchString(v) {
		return "", constraintErr(v, "versionId", `Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	}
	return v, nil
}

var versionIDRe = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)

// createPolicyVersion adds a version. A policy holds at most
// maxPolicyVersions; the sixth is LimitExceeded with IAM's message (IAM API
// reference, CreatePolicyVersion: "delete an existing version using
// DeletePolicyVersion before you create a new version").
func (s *acct) createPolicyVersion(p params) (func(*xmlWriter), *apiError) {
	mp, err := s.customerPolicy(p, "modify")
	if err != nil {
		return nil, err
	}
	doc, err := p.required("PolicyDocument", "policyDocument")
	if err != nil {
		return nil, err
	}
	if err := checkIdentityDoc(doc); err != nil {
		return nil, err
	}
	if policySize(doc) > managedPolicySizeQuota {
		return nil, errLimit("Cannot exceed quota for PolicySize: %d", managedPolicySizeQuota)
	}
	setDefault := false
	if p.has("SetAsDefault") {
		switch v := p.str("SetAsDefault"); v {
		case "true":
			setDefault = true
		case "false":
		default:
			return nil, constraintErr(v, "setAsDefault", "Member must be a boolean")
		}
	}
	if len(mp.versions) >= maxPolicyVersions {
		return nil, errLimit("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
	}
	now := s.opts.clock().UTC().Truncate(1e9)
	v := policyVersion{id: "v" + strconv.Itoa(mp.nextVersion), doc: doc, created: now}
	mp.nextVersion++
	mp.versions = append(mp.versions, v)
	if setDefault {
		mp.defaultVersion, mp.doc, mp.updated = v.id, doc, now
	}
	return func(w *xmlWriter) {
		w.open("PolicyVersion")
		writeVersion(w, mp, &v, false)
		w.close("PolicyVersion")
	}, nil
}

// modifiedVersion finds the customer-managed policy and the version that
// a SetDefaultPolicyVersion or DeletePolicyVersion call names.
func (s *acct) modifiedVersion(p params) (*managedPolicy, *policyVersion, *apiError) {
	mp, err := s.customerPolicy(p, "modify")
	if err != nil {
		return nil, nil, err
	}
	ver, err := versionID(p)
	if err != nil {
		return nil, nil, err
	}
	v := mp.version(ver)
	if v == nil {
		return nil, nil, errNoSuchEntity("Policy %s version %s does not exist.", mp.arn, ver)
	}
	return mp, v, nil
}

func (s *acct) setDefaultPolicyVersion(p params) (func(*xmlWriter), *apiError) {
	mp, v, err := s.modifiedVersion(p)
	if err != nil {
		return nil, err
	}
	mp.defaultVersion, mp.doc, mp.updated = v.id, v.doc, s.opts.clock().UTC().Truncate(1e9)
	return nil, nil
}

// deletePolicyVersion removes a non-default version; the default one is
// DeleteConflict (IAM API reference, DeletePolicyVersion: "You cannot
// delete the default version from a policy using this operation").
func (s *acct) deletePolicyVersion(p params) (func(*xmlWriter), *apiError) {
	mp, v, err := s.modifiedVersion(p)
	if err != nil {
		return nil, err
	}
	ver := v.id
	if ver == mp.defaultVersion {
		return nil, errDeleteConflict("Cannot delete the default version of a policy.")
	}
	mp.versions = slices.DeleteFunc(mp.versions, func(v policyVersion) bool { return v.id == ver })
	return nil, nil
}

// listPolicyVersions lists a policy's versions, newest first as IAM does,
// without documents.
func (s *acct) listPolicyVersions(p params) (func(*xmlWriter), *apiError) {
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	mp := s.st.policies[arn]
	if mp == nil {
		return nil, errNoSuchEntity("Policy %s was not found.", arn)
	}
	// Page keys sort like the versions, newest first: zero-padded
	// inverted version numbers.
	keys := make([]string, len(mp.versions))
	byKey := map[string]*policyVersion{}
	for i := range mp.versions {
		v := &mp.versions[i]
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(v.id, ".", 2)[0], "v"))
		k := fmt.Sprintf("%012d", 999999999999-n)
		keys[i], byKey[k] = k, v
	}
	slices.Sort(keys)
	return p.memberPage(keys, "Versions", func(w *xmlWriter, k string) { writeVersion(w, mp, byKey[k], false) })
}

func (s *acct) deletePolicy(p params) (func(*xmlWriter), *apiError) {
	mp, err := s.customerPolicy(p, "delete")
	if err != nil {
		return nil, err
	}
	if a, b := s.st.policyAttachments(mp.arn); a+b > 0 {
		return nil, errDeleteConflict("Cannot delete a policy attached to entities.")
	}
	delete(s.st.policies, mp.arn)
	return nil, nil
}

// boundaryPolicy checks that a permissions boundary names a managed policy.
func (s *acct) boundaryPolicy(arn string) (string, *apiError) {
	if !policyARNRe.MatchString(arn) {
		return "", errInvalidInput("ARN %s is not valid.", arn)
	}
	if s.st.policies[arn] == nil {
		return "", errNoSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
	}
	return arn, nil
}

// --- role attachments and inline policies ---------------------------------

func (s *acct) attachRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		mp := s.st.policies[arn]
		if mp == nil {
			return false, s.policyNotFound(arn)
		}
		if mp.serviceRolePolicy {
			return false, newErr(http.StatusBadRequest, codePolicyNotAttachable,
				"Cannot attach a Service Role Policy to a Customer Role.")
		}
		if slices.Contains(r.attached, arn) {
			return false, nil // attaching twice is a no-op in IAM
		}
		if len(r.attached) >= s.opts.perRoleQuota {
			return false, errLimit("Cannot exceed quota for PoliciesPerRole: %d", s.opts.perRoleQuota)
		}
		r.attached = append(r.attached, arn)
		return true, nil
	})
}

func (s *acct) detachRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	arn, err := p.policyARN("PolicyArn", "policyArn")
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		i := slices.Index(r.attached, arn)
		if i < 0 {
			return false, errNoSuchEntity("Policy %s was not found.", arn)
		}
		r.attached = slices.Delete(r.attached, i, i+1)
		return true, nil
	})
}

func (s *acct) listAttachedRolePolicies(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	prefix, err := p.pathPrefix()
	if err != nil {
		return nil, err
	}
	r := s.st.readRole(strings.ToLower(name), "ListAttachedRolePolicies")
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	var arns []string
	for _, a := range r.attached {
		if mp := s.st.policies[a]; mp != nil && strings.HasPrefix(mp.path, prefix) {
			arns = append(arns, a)
		}
	}
	slices.Sort(arns)
	return p.memberPage(arns, "AttachedPolicies", func(w *xmlWriter, a string) {
		w.elem("PolicyName", s.st.policies[a].name)
		w.elem("PolicyArn", a)
	})
}

func inlineSize(m map[string]string) int {
	n := 0
	for _, d := range m {
		n += policySize(d)
	}
	return n
}

func (s *acct) putRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	pname, err := p.policyName()
	if err != nil {
		return nil, err
	}
	doc, err := p.required("PolicyDocument", "policyDocument")
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		if err := checkIdentityDoc(doc); err != nil {
			return false, err
		}
		next := maps.Clone(r.inline)
		next[pname] = doc
		// Inline policies of a role share one 10,240-character budget;
		// observed error: "Maximum policy size of 10240 bytes exceeded for
		// role …" (LimitExceeded).
		if inlineSize(next) > inlineRolePolicySizeQuota {
			return false, errLimit("Maximum policy size of %d bytes exceeded for role %s", inlineRolePolicySizeQuota, r.name)
		}
		r.inline = next
		return true, nil
	})
}

func (s *acct) getRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	pname, err := p.policyName()
	if err != nil {
		return nil, err
	}
	r := s.st.readRole(strings.ToLower(name), "GetRolePolicy")
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	doc, ok := r.inline[pname]
	if !ok {
		return nil, errNoSuchEntity("The role policy with name %s cannot be found.", pname)
	}
	return func(w *xmlWriter) {
		w.elem("RoleName", r.name)
		w.elem("PolicyName", pname)
		w.elem("PolicyDocument", encodeRFC3986(doc))
	}, nil
}

func (s *acct) listRolePolicies(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	r := s.st.readRole(strings.ToLower(name), "ListRolePolicies")
	if r == nil {
		return nil, errRoleNotFound(name)
	}
	names := slices.Sorted(maps.Keys(r.inline))
	pg, err := p.paginate(names)
	if err != nil {
		return nil, err
	}
	return func(w *xmlWriter) {
		w.open("PolicyNames")
		for _, n := range names[pg.start:pg.end] {
			w.elem("member", n)
		}
		w.close("PolicyNames")
		w.pageInfo(pg)
	}, nil
}

func (s *acct) deleteRolePolicy(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	pname, err := p.policyName()
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		if _, ok := r.inline[pname]; !ok {
			return false, errNoSuchEntity("The role policy with name %s cannot be found.", pname)
		}
		r.inline = maps.Clone(r.inline)
		delete(r.inline, pname)
		return true, nil
	})
}

func (s *acct) putRolePermissionsBoundary(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	arn, err := p.required("PermissionsBoundary", "permissionsBoundary")
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		b, err := s.boundaryPolicy(arn)
		if err != nil {
			return false, err
		}
		r.boundary = b
		return true, nil
	})
}

func (s *acct) deleteRolePermissionsBoundary(p params) (func(*xmlWriter), *apiError) {
	name, err := p.roleName()
	if err != nil {
		return nil, err
	}
	return nil, s.mutate(name, func(r *role) (bool, *apiError) {
		changed := r.boundary != ""
		r.boundary = ""
		return changed, nil
	})
}

// --- account-wide ------------------------------------------------------------

// getAccountAuthorizationDetails pages over users, roles and managed
// policies together (groups: the stand-in has none). Filter narrows the
// entity types; AWS managed policies are listed only while attached to
// something, customer managed ones always.
func (s *acct) getAccountAuthorizationDetails(p params) (func(*xmlWriter), *apiError) {
	want := map[string]bool{}
	for _, f := range p.list("Filter") {
		switch f {
		case "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy":
			want[f] = true
		default:
			return nil, constraintErr(f, "filter.member", "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]")
		}
	}
	all := len(want) == 0
	var keys []string
	if all || want["User"] {
		for k := range s.st.users {
			keys = append(keys, "1:"+k)
		}
	}
	if all || want["Role"] {
		for _, k := range s.st.visibleRoleKeys("GetAccountAuthorizationDetails") {
			if s.st.peekRole(k, "GetAccountAuthorizationDetails") != nil {
				keys = append(keys, "2:"+k)
			}
		}
	}
	for arn, mp := range s.st.policies {
		if mp.awsManaged && (all || want["AWSManagedPolicy"]) {
			if a, b := s.st.policyAttachments(arn); a+b > 0 {
				keys = append(keys, "3:"+arn)
			}
		}
		if !mp.awsManaged && (all || want["LocalManagedPolicy"]) {
			keys = append(keys, "3:"+arn)
		}
	}
	slices.Sort(keys)
	pg, err := p.paginate(keys)
	if err != nil {
		return nil, err
	}
	var users []*user
	var roles []*role
	var pols []*managedPolicy
	for _, k := range keys[pg.start:pg.end] {
		switch k[0] {
		case '1':
			users = append(users, s.st.users[k[2:]])
		case '2':
			roles = append(roles, s.st.readRole(k[2:], "GetAccountAuthorizationDetails"))
		case '3':
			pols = append(pols, s.st.policies[k[2:]])
		}
	}
	return func(w *xmlWriter) {
		w.open("UserDetailList")
		for _, u := range users {
			w.open("member")
			w.elem("Path", u.path)
			w.elem("UserName", u.name)
			w.elem("UserId", u.id)
			w.elem("Arn", s.st.userARN(u))
			w.timestamp("CreateDate", u.created)
			w.close("member")
		}
		w.close("UserDetailList")
		w.open("GroupDetailList")
		w.close("GroupDetailList")
		w.open("RoleDetailList")
		for _, r := range roles {
			s.writeRoleDetail(w, r)
		}
		w.close("RoleDetailList")
		w.open("Policies")
		for _, mp := range pols {
			s.writePolicy(w, "member", mp)
			w.open("PolicyVersionList")
			for i := range mp.versions {
				w.open("member")
				writeVersion(w, mp, &mp.versions[i], true)
				w.close("member")
			}
			w.close("PolicyVersionList")
			w.close("member")
		}
		w.close("Policies")
		w.pageInfo(pg)
	}, nil
}

func (s *acct) writeRoleDetail(w *xmlWriter, r *role) {
	w.open("member")
	w.elem("Path", r.path)
	w.elem("RoleName", r.name)
	w.elem("RoleId", r.id)
	w.elem("Arn", s.st.roleARN(r))
	w.timestamp("CreateDate", r.created)
	w.elem("AssumeRolePolicyDocument", encodeRFC3986(s.st.renderTrust(r)))
	w.open("InstanceProfileList")
	w.close("InstanceProfileList")
	w.open("RolePolicyList")
	for _, n := range slices.Sorted(maps.Keys(r.inline)) {
		w.open("member")
		w.elem("PolicyName", n)
		w.elem("PolicyDocument", encodeRFC3986(r.inline[n]))
		w.close("member")
	}
	w.close("RolePolicyList")
	w.open("AttachedManagedPolicies")
	for _, a := range r.attached {
		w.open("member")
		if mp := s.st.policies[a]; mp != nil {
			w.elem("PolicyName", mp.name)
		}
		w.elem("PolicyArn", a)
		w.close("member")
	}
	w.close("AttachedManagedPolicies")
	if r.boundary != "" {
		w.open("PermissionsBoundary")
		w.elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
		w.elem("PermissionsBoundaryArn", r.boundary)
		w.close("PermissionsBoundary")
	}
	writeTags(w, r.tags)
	w.close("member")
}

// --- service-linked roles ----------------------------------------------------

// serviceLinkedRoles maps service principals to the name IAM gives their
// service-linked role (AWSServiceRoleFor<Name>) and the AWS managed policy
// it carries, where the stand-in knows them. Other services get a name
// derived from the principal's first label.
var serviceLinkedRoles = map[string]struct{ name, policy string }{
	"elasticfilesystem.amazonaws.com":    {"AmazonElasticFileSystem", "AmazonElasticFileSystemServiceRolePolicy"},
	"autoscaling.amazonaws.com":          {"AutoScaling", ""},
	"ecs.amazonaws.com":                  {"ECS", ""},
	"elasticloadbalancing.amazonaws.com": {"ElasticLoadBalancing", ""},
	"rds.amazonaws.com":                  {"RDS", ""},
	"organizations.amazonaws.com":        {"Organizations", ""},
	"sso.amazonaws.com":                  {"SSO", ""},
	"config.amazonaws.com":               {"Config", ""},
	"guardduty.amazonaws.com":            {"AmazonGuardDuty", ""},
	"securityhub.amazonaws.com":          {"SecurityHub", ""},
	"access-analyzer.amazonaws.com":      {"AccessAnalyzer", ""},
	"cloudtrail.amazonaws.com":           {"CloudTrail", ""},
	"support.amazonaws.com":              {"Support", ""},
	"trustedadvisor.amazonaws.com":       {"TrustedAdvisor", ""},
}

func slrName(service string) (name, policy string) {
	if k, ok := serviceLinkedRoles[service]; ok {
		return k.name, k.policy
	}
	label := strings.SplitN(service, ".", 2)[0]
	var b strings.Builder
	for _, part := range strings.Split(label, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String(), ""
}

func (s *acct) createServiceLinkedRole(p params) (func(*xmlWriter), *apiError) {
	svc, err := p.required("AWSServiceName", "aWSServiceName")
	if err != nil {
		return nil, err
	}
	if !servicePrinRe.MatchString(svc) {
		return nil, errInvalidInput("Invalid service name %s.", svc)
	}
	desc, err := description(p)
	if err != nil {
		return nil, err
	}
	base, policy := slrName(svc)
	name := serviceLinkedRoleNamePrefix + base
	if sfx := p.str("CustomSuffix"); sfx != "" {
		if !roleNameRe.MatchString(sfx) {
			return nil, constraintErr(sfx, "customSuffix", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
		}
		name += "_" + sfx
	}
	if len(name) > 64 {
		return nil, constraintErr(name, "roleName", "Member must have length less than or equal to 64")
	}
	key := strings.ToLower(name)
	if s.st.roles[key] != nil {
		return nil, errInvalidInput("Service role name %s has been taken in this account, please try a different suffix.", name)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":[%q]},"Action":"sts:AssumeRole"}]}`, svc)
	r := &role{
		name: name, path: serviceLinkedRolePathPrefix + svc + "/", id: s.st.newID("AROA"),
		created: s.opts.clock().UTC().Truncate(1e9), trust: trustDoc{raw: trust},
		description: desc, maxSession: defaultRoleMaxSessionDuration,
		tags: map[string]string{}, inline: map[string]string{},
	}
	if policy != "" {
		r.attached = []string{"arn:" + s.st.partition + ":iam::aws:policy/aws-service-role/" + policy}
	}
	s.st.putRole(r)
	s.st.recordWrite(key, nil)
	return func(w *xmlWriter) { s.writeRole(w, "Role", r, roleFull) }, nil
}
