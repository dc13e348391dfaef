// Package sandbox prepares a local account for running the guardrail's
// Lambdas without AWS: a pkg/iamtest IAM stand-in holding what the stack
// would have deployed (the lockdown policy, the guardrail's own roles) and
// a few roles that existed before, plus the environment the stack would give
// the functions, pointed at the stand-in. The demo, the end-to-end tests and
// the handler tests share it, so they all run the same deployment.
package sandbox

import (
	"fmt"
	"maps"
	"slices"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// The deployment the sandbox plays. The event fixtures in events/ use the
// same account, trusted account and organization.
const (
	Account        = iamtest.DefaultAccount // the own account
	TrustedAccount = "444455556666"         // a partner account the operator trusts
	TrustedOrgID   = "o-a1b2c3d4e5"         // the operator's organization
	// TrustedOIDCTenants are the owners of shared OIDC issuers the operator
	// trusts: its GitHub organization by name and by immutable owner ID.
	TrustedOIDCTenants = "github:acme-corp,github-id:123456"
	NamePrefix         = lockdown.DefaultNamePrefix
	// EnforcerRole and SweeperRole are the guardrail's own roles, as the
	// stack names them (physical names share NamePrefix).
	EnforcerRole = NamePrefix + "-EnforcerRole"
	SweeperRole  = NamePrefix + "-SweeperRole"
)

// Deployment is what Deploy created.
type Deployment struct {
	// LockdownPolicyARN is the lockdown managed policy.
	LockdownPolicyARN string
	// Env is the functions' environment: the GUARDRAIL_* configuration and
	// the AWS SDK settings that reach the stand-in with dummy credentials.
	Env map[string]string
	// Config is the configuration the functions read from Env.
	Config config.Config
}

// Environ returns Env as sorted "KEY=value" strings for exec.Cmd.Env.
func (d Deployment) Environ() []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(d.Env)) {
		env = append(env, k+"="+d.Env[k])
	}
	return env
}

// Getenv looks a variable up in Env, like os.Getenv.
func (d Deployment) Getenv(k string) string { return d.Env[k] }

// exemptRoles is the sandbox's exemption: its break-glass role.
const exemptRoles = "breakglass-*"

// Deploy creates in srv what the stack creates in an account (the lockdown
// policy, the guardrail's roles) and returns the functions' environment and
// the configuration they read from it.
// mode is the global GUARDRAIL_MODE.
func Deploy(srv *iamtest.Server, mode config.Mode) (Deployment, error) {
	doc, err := lockdown.Document(lockdown.Config{Account: srv.Account(), NamePrefix: NamePrefix, ExemptRoles: []string{exemptRoles}})
	if err != nil {
		return Deployment{}, fmt.Errorf("sandbox: lockdown document: %w", err)
	}
	arn, err := srv.SeedPolicy(lockdown.PolicyName, string(doc))
	if err != nil {
		return Deployment{}, fmt.Errorf("sandbox: seed lockdown policy: %w", err)
	}
	lambdaTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	for _, name := range []string{EnforcerRole, SweeperRole} {
		if _, err := srv.SeedRole(iamtest.Role{Name: name, TrustPolicy: lambdaTrust,
			AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}}); err != nil {
			return Deployment{}, fmt.Errorf("sandbox: seed %s: %w", name, err)
		}
	}
	dep := Deployment{
		LockdownPolicyARN: arn,
		Env: map[string]string{
			config.EnvMode:            string(mode),
			config.EnvTrustedAccounts: TrustedAccount,
			config.EnvTrustedOrgIDs:   TrustedOrgID,
			// The GitHub owner the operator trusts, by name and by
			// immutable ID (events/CreateRole-github-oidc-tenants.json).
			config.EnvTrustedOIDCTenants: TrustedOIDCTenants,
			config.EnvExemptRoles:        exemptRoles,
			config.EnvProtectedRoleARNs:  fmt.Sprintf("arn:aws:iam::%s:role/%s-*", srv.Account(), NamePrefix),
			config.EnvLockdownPolicyARN:  arn,
			config.EnvRevokeSessions:     "true",
			config.EnvMetricsNamespace:   config.DefaultMetricsNamespace,
			// The SDK reaches the stand-in the standard way; nothing in the
			// product knows it is not IAM.
			"AWS_ENDPOINT_URL_IAM":  srv.URL,
			"AWS_REGION":            "us-east-1",
			"AWS_ACCESS_KEY_ID":     "AKIAIOSFODNN7EXAMPLE",
			"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			// Keep a developer's own AWS profile and the instance metadata
			// service out of local runs.
			"AWS_CONFIG_FILE":             "/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
			"AWS_EC2_METADATA_DISABLED":   "true",
		},
	}
	if dep.Config, err = config.FromEnv(dep.Getenv); err != nil {
		return Deployment{}, fmt.Errorf("sandbox: configuration: %w", err)
	}
	return dep, nil
}

// ExistingRoles are roles that were in the account before the guardrail was
// deployed, which only the sweeper finds: a legacy role whose trust policy
// an event in events/ later changes, a vendor role trusting a foreign
// account, and a role exempt by configuration.
var ExistingRoles = []iamtest.Role{
	{Name: "legacy-batch", Path: "/", Description: "Nightly batch job on EC2",
		TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	{Name: "vendor-monitoring", Path: "/vendors/", Description: "Third-party monitoring vendor",
		TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::754728514883:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a1b2c3"}}}]}`},
	{Name: "breakglass-admin", Path: "/", Description: "Emergency access, exempt by configuration",
		TrustPolicy:        `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + Account + `:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`,
		AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}},
}

// SeedExisting seeds ExistingRoles into srv.
func SeedExisting(srv *iamtest.Server) error {
	for _, r := range ExistingRoles {
		if _, err := srv.SeedRole(r); err != nil {
			return fmt.Errorf("sandbox: seed %s: %w", r.Name, err)
		}
	}
	return nil
}
