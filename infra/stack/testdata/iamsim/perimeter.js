// Evaluates requests against organization policies (RCPs, SCPs) with
// @cloud-copilot/iam-simulate, for infra/stack/perimeter_simulate_test.go.
// Reads {"cases": [...]} on stdin, each case {name, principal, action,
// resource, resourceAccount, context, identityPolicies, scps, rcps,
// resourcePolicy} (scps and rcps: one {orgIdentifier, policies} per level
// of the organization, root first; resourcePolicy: {name, policy} or null),
// and writes one result per case on stdout: {name, result, validation}.
//
// Three defects of iam-simulate 0.1.173 shape this driver; the Go test
// works around the third (variables in an ARN's account field):
//  1. runSimulation drops context keys that its action data does not list
//     for the action (token.actions.githubusercontent.com:sub and the other
//     provider keys on sts:AssumeRoleWithWebIdentity), so GitHub and EKS
//     callers would look refused: every case is decided by
//     runUnsafeSimulation, and runSimulation only validates (its errors and
//     the keys it ignored are reported, never its decision).
//  2. runUnsafeSimulation does not add RCPFullAWSAccess, which AWS attaches
//     at every level (root, OUs, account) once RCPs are enabled: added here
//     at every level. It also reads the resource policy's name from its
//     metadata, so the resource policy goes in as a named, validated policy.
// The module is found through NODE_PATH (make test installs it into
// .tools/iamsim/node_modules).
'use strict';

const { runSimulation, runUnsafeSimulation } = require('@cloud-copilot/iam-simulate');
const { createValidatedPolicy, validateResourcePolicy } = require('@cloud-copilot/iam-policy');

// The policy AWS attaches at every level when RCPs are enabled ("This
// policy is automatically attached to the organization root, every OU, and
// every account in your organization", AWS Organizations User Guide, "RCP
// syntax").
const rcpFullAWSAccess = {
  name: 'RCPFullAWSAccess',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] },
};

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const out = [];
  for (const c of input.cases) {
    const base = {
      identityPolicies: c.identityPolicies || [],
      serviceControlPolicies: c.scps || [],
      request: {
        principal: c.principal,
        action: c.action,
        resource: { accountId: c.resourceAccount, resource: c.resource },
        contextVariables: c.context || {},
      },
    };
    // Workaround 2: RCPFullAWSAccess at every level.
    const rcps = (c.rcps || []).map((l) => ({ orgIdentifier: l.orgIdentifier, policies: [rcpFullAWSAccess, ...l.policies] }));
    const unsafe = { ...base, resourceControlPolicies: rcps };
    if (c.resourcePolicy) {
      // Workaround 2: a named, validated resource policy.
      unsafe.resourcePolicy = createValidatedPolicy(c.resourcePolicy.policy, validateResourcePolicy, { name: c.resourcePolicy.name });
    }
    // Workaround 1: the decision comes from runUnsafeSimulation.
    let result;
    try {
      result = runUnsafeSimulation(unsafe, {});
    } catch (e) {
      result = 'error: ' + (e && e.message ? e.message : String(e));
    }
    // Workaround 1: runSimulation validates the same input (it adds
    // RCPFullAWSAccess itself, once).
    const safe = { ...base, resourceControlPolicies: c.rcps || [] };
    if (c.resourcePolicy) {
      safe.resourcePolicy = c.resourcePolicy.policy;
    }
    let validation;
    try {
      const r = await runSimulation(safe, {});
      const each = r.resultType === 'single' ? [r.result] : r.resultType === 'wildcard' ? r.results : [];
      validation = {
        errors: r.resultType === 'error' ? r.errors : null,
        ignoredContextKeys: [...new Set(each.flatMap((x) => x?.ignoredContextKeys || []))],
      };
    } catch (e) {
      validation = { errors: String(e), ignoredContextKeys: [] };
    }
    out.push({ name: c.name, result, validation });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
