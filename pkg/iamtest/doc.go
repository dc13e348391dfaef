// Package iamtest provides a local IAM endpoint that the real aws-sdk-go-v2
// IAM client talks to over HTTP, shaped like net/http/httptest: NewServer
// starts it, URL is its address, Close stops it.
//
// There is no AWS account on developer machines or in CI, so the guardrail's
// engine, Lambdas and demo are tested against this stand-in. It speaks IAM's
// query protocol (form-encoded POST, Action=…&Version=2010-05-08, XML
// responses, XML ErrorResponse bodies with IAM's error codes and HTTP
// statuses) for CreateRole, GetRole, DeleteRole, UpdateRole,
// UpdateAssumeRolePolicy, ListRoles, TagRole, UntagRole, ListRoleTags,
// CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy, CreatePolicyVersion,
// SetDefaultPolicyVersion, DeletePolicyVersion, ListPolicyVersions, AttachRolePolicy,
// DetachRolePolicy, ListAttachedRolePolicies, PutRolePolicy, GetRolePolicy,
// ListRolePolicies, DeleteRolePolicy, PutRolePermissionsBoundary,
// DeleteRolePermissionsBoundary, GetAccountAuthorizationDetails and
// CreateServiceLinkedRole.
//
// # Behaviour that matches IAM
//
//   - Policy documents are stored exactly as submitted and returned
//     URL-encoded per RFC 3986 (space %20, plus %2B).
//   - Trust policies are validated: grammar (MalformedPolicyDocument), size
//     quota in non-whitespace characters (LimitExceeded "Cannot exceed quota
//     for ACLSizePerRole: 2048", as IAM answers), and principals: a role or
//     user ARN of the server's account must exist ("Invalid principal in
//     policy"); other accounts' ARNs are accepted. A named principal is
//     stored by unique ID: once it is deleted, documents show the bare
//     AROA…/AIDA… ID, and writing such an ID back is rejected.
//   - Trust-policy actions are validated: only the STS actions a trust
//     policy may grant (sts:AssumeRole, AssumeRoleWithSAML,
//     AssumeRoleWithWebIdentity, TagSession, SetSourceIdentity, SetContext);
//     anything else, wildcards and NotAction included, is
//     MalformedPolicyDocument "AssumeRole policy may only specify STS
//     AssumeRole actions." (wildcards: IAM's behaviour is undocumented, so
//     they are refused).
//   - Managed policy versions: at most 5 (LimitExceeded on the sixth), IDs
//     v1, v2, … never reused, the default version cannot be deleted
//     (DeleteConflict).
//   - NoSuchEntity (404), EntityAlreadyExists (409), DeleteConflict (409),
//     LimitExceeded (409) on the 11th managed policy of a role (quota
//     configurable), UnmodifiableEntity for roles under /aws-service-role/
//     and /aws-reserved/, PolicyNotAttachable, ValidationError for
//     parameters outside their constraints.
//   - Pagination with MaxItems (1–1000, default 100), Marker and IsTruncated
//     on every List* action and GetAccountAuthorizationDetails.
//   - Role IDs AROA…, user IDs AIDA…, policy IDs ANPA…, ARNs with paths,
//     create dates; names are case-insensitive as in IAM.
//   - The AWS managed policies AdministratorAccess, ReadOnlyAccess,
//     PowerUserAccess, IAMFullAccess, AWSDenyAll and
//     service-role/AWSLambdaBasicExecutionRole exist from the start.
//
// # Test helpers
//
//	srv := iamtest.NewServer()                  // options: WithAccount, WithTrustPolicySizeQuota, …
//	defer srv.Close()
//	client := srv.Client()                      // or iam.NewFromConfig(srv.Config())
//	arn, err := srv.SeedRole(iamtest.Role{Name: "app", TrustPolicy: doc})
//	srv.SeedUser("alice"); srv.SeedPolicy("GuardrailLockdown", denyDoc)
//	st, ok := srv.Role("app")                   // decoded trust policy, attached, inline, boundary
//	srv.Calls("GetRole"); srv.WriteCalls(); srv.CallLog(); srv.ResetCalls()
//	srv.SetStaleReads("app", 2)                 // next 2 reads after a write see the previous state
//	srv.SetFaults(iamtest.Faults{ThrottleRate: 0.3, Seed: 1})
//	iamtest.NewServer(iamtest.WithFaults(f), iamtest.WithStaleReads(1),
//		iamtest.WithStaleMode(iamtest.StaleIndependent)) // the same from the start; per read API
//
// # Organizations
//
// WithAccounts plays an AWS Organization behind the same URL: the first
// account is the management account (the static credentials act in it as
// its root user), every other account holds OrganizationAccountAccessRole
// trusting it. STS AssumeRole and GetCallerIdentity (AWS_ENDPOINT_URL_STS)
// issue and resolve temporary credentials bound to the role's account;
// IAM calls signed with them act in that account only (the access key is
// read from the SigV4 Authorization header). AssumeRole admits only the
// principals the role's trust policy admits (a minimal evaluator that
// fails closed: conditional Allow statements admit nobody, any Deny that
// may apply refuses). Unknown access keys are refused with
// InvalidClientTokenId. Organizations (JSON 1.1, AWS_ENDPOINT_URL_ORGANIZATIONS)
// answers DescribeOrganization, and ListAccounts and DescribeAccount for the
// management account. ServiceCredentials hands out a role's credentials
// the way Lambda gives a function its execution role's.
//
//	srv := iamtest.NewServer(iamtest.WithAccounts("111111111111", "222222222222"))
//	// sts.NewFromConfig(srv.Config()).AssumeRole(… "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole" …)
//
// Product code never needs any of this: it reaches the server the standard
// way, with AWS_ENDPOINT_URL_IAM (or AWS_ENDPOINT_URL) set to srv.URL and
// dummy static credentials. `guardrail iam-local` runs the same server as a
// process.
//
// # Known differences
//
// Signatures are not verified (a SigV4 Authorization header for the iam
// or sts service is required). Identity policies are not evaluated: a
// principal the trust policy admits may assume the role. Session policies,
// tags and MFA on AssumeRole are refused. Delegated administrators of
// Organizations are not modelled. Users, groups and instance profiles are not
// modelled. An injected fault never changes state.
package iamtest
