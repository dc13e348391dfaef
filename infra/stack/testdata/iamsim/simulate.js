// Evaluates IAM requests with @cloud-copilot/iam-simulate, an IAM policy
// evaluator that shares no code with the guardrail. Driven by
// infra/stack/simulate_test.go: reads {"cases": [...]} on stdin, each case
// {name, principal, account, action, resource, context, policies}, and
// an optional resourcePolicy (a KMS key policy: KMS needs one), and
// writes one result per case on stdout: {name, resultType, result, errors,
// denySids (the Sids of the identity statements that denied it),
// ignoredContextKeys (context keys the action does not have)}.
// The module is found through NODE_PATH (make test installs it into
// .tools/iamsim/node_modules).
'use strict';

const { runSimulation } = require('@cloud-copilot/iam-simulate');

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const out = [];
  for (const c of input.cases) {
    const simulation = {
      identityPolicies: c.policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: c.principal,
        action: c.action,
        resource: { accountId: c.account, resource: c.resource },
        contextVariables: c.context || {},
      },
    };
    if (c.resourcePolicy) {
      simulation.resourcePolicy = c.resourcePolicy;
    }
    const r = await runSimulation(simulation, {});
    // A resource of "*" for an action with resource types is evaluated
    // once per resource pattern ('wildcard'); collect them all.
    const each = r.resultType === 'single' ? [r.result] : r.resultType === 'wildcard' ? r.results : [];
    const denies = each.flatMap((x) => x?.analysis?.identityAnalysis?.denyStatements || []);
    const ignored = [...new Set(each.flatMap((x) => x?.ignoredContextKeys || []))];
    out.push({
      name: c.name,
      resultType: r.resultType,
      result: r.resultType === 'error' ? null : r.overallResult,
      errors: r.resultType === 'error' ? r.errors : null,
      denySids: denies.map((d) => d.explain?.identifier ?? null),
      ignoredContextKeys: ignored,
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
