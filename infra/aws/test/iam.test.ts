// Every IAM statement in the template, the ones CDK generates included: no wildcard actions,
// no "*" resource where the action can name one, and each service's role holds exactly what
// that service uses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { asList, identityStatements, logicalId, resourceStatements, synth, type Statement } from "./helpers.js";

/**
 * Actions that support no resource-level permission (AWS Service Authorization Reference):
 * the only ones allowed on "*".
 */
const ONLY_ON_STAR = new Set(["ecr:GetAuthorizationToken"]);

const { template } = synth();
const identity = identityStatements(template);
const resources = resourceStatements(template);

const actionsOf = (s: Statement) => asList(s.Action);
const isWildcardAction = (a: string) => a === "*" || /^[a-z0-9-]+:\*$/.test(a);

/** Statements of the policies attached to the role whose logical id starts with `rolePrefix`. */
function roleStatements(rolePrefix: string): Statement[] {
  const roleId = logicalId(template, "AWS::IAM::Role", rolePrefix);
  const policies = template.findResources("AWS::IAM::Policy");
  return Object.values(policies)
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

describe("IAM statements", () => {
  it("the template has identity statements to check", () => {
    assert.ok(identity.length >= 10, `only ${identity.length} statements found`);
  });

  it("no statement allows a wildcard action", () => {
    for (const { resource, statement } of [...identity, ...resources]) {
      if (statement.Effect !== "Allow") continue;
      for (const action of actionsOf(statement)) {
        assert.ok(!isWildcardAction(action), `${resource} allows ${action}`);
      }
    }
  });

  it("no identity statement names the resource * unless its action supports no other", () => {
    for (const { resource, statement } of identity) {
      if (!asList(statement.Resource).includes("*")) continue;
      for (const action of actionsOf(statement)) {
        assert.ok(ONLY_ON_STAR.has(action), `${resource}: ${action} on "*" (name the resource)`);
      }
    }
  });

  it("bucket and topic policies name their resources and key policies name their principals", () => {
    for (const { resource, statement } of resources) {
      if (!resource.startsWith("DataKey")) {
        assert.ok(!asList(statement.Resource).includes("*"), `${resource} has a statement on "*"`);
      }
      if (statement.Effect === "Allow") {
        assert.notDeepEqual(statement.Principal, "*", `${resource} allows everyone`);
        assert.notDeepEqual(statement.Principal, { AWS: "*" }, `${resource} allows everyone`);
      }
    }
  });

  it("the edge producer may only PutRecords to the event stream", () => {
    const policies = template.findResources("AWS::IAM::ManagedPolicy");
    const edge = Object.values(policies).filter((p) => p.Properties.ManagedPolicyName === "vane-edge-producer");
    assert.equal(edge.length, 1);
    const stream = logicalId(template, "AWS::Kinesis::Stream", "EventsStream");
    assert.deepEqual(edge[0]!.Properties.PolicyDocument.Statement, [
      { Sid: "EdgesOnlyPutRecordsToTheEventStream", Effect: "Allow", Action: "kinesis:PutRecords", Resource: { "Fn::GetAtt": [stream, "Arn"] } },
    ]);
    // Nothing else is attached to the producer identities.
    const user = Object.values(template.findResources("AWS::IAM::User"));
    assert.equal(user.length, 1);
    assert.equal(user[0]!.Properties.Policies, undefined);
    assert.equal(user[0]!.Properties.ManagedPolicyArns, undefined);
    const group = Object.values(template.findResources("AWS::IAM::Group"))[0]!;
    assert.equal(group.Properties.ManagedPolicyArns.length, 1);
    assert.deepEqual(roleStatements("EventsEdgeProducerRole"), []);
  });

  it("core's and sync's task roles hold no permission at all", () => {
    assert.deepEqual(roleStatements("ServicesCoreTaskRole"), []);
    assert.deepEqual(roleStatements("ServicesSyncTaskRole"), []);
  });

  it("analytics reads the stream and writes the lake's prefix, nothing more", () => {
    const stream = logicalId(template, "AWS::Kinesis::Stream", "EventsStream");
    const lake = logicalId(template, "AWS::S3::Bucket", "DataLake");
    const key = logicalId(template, "AWS::KMS::Key", "DataKey");
    const statements = roleStatements("ServicesAnalyticsTaskRole");
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    assert.deepEqual(Object.keys(bySid).sort(), ["ListTheLake", "ReadTheEventStream", "UseTheLakeKeyThroughS3", "WriteAndReadTheLake"]);
    assert.deepEqual(asList(bySid.ReadTheEventStream!.Action).sort(), ["kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]);
    assert.deepEqual(bySid.ReadTheEventStream!.Resource, { "Fn::GetAtt": [stream, "Arn"] });
    assert.deepEqual(asList(bySid.WriteAndReadTheLake!.Action).sort(), ["s3:GetObject", "s3:PutObject"]);
    assert.deepEqual(bySid.WriteAndReadTheLake!.Resource, { "Fn::Join": ["", [{ "Fn::GetAtt": [lake, "Arn"] }, "/events/*"]] });
    assert.deepEqual(bySid.ListTheLake!.Action, "s3:ListBucket");
    assert.deepEqual(bySid.ListTheLake!.Condition, { StringLike: { "s3:prefix": ["events/*"] } });
    assert.deepEqual(asList(bySid.UseTheLakeKeyThroughS3!.Action).sort(), ["kms:Decrypt", "kms:GenerateDataKey"]);
    assert.deepEqual(bySid.UseTheLakeKeyThroughS3!.Resource, { "Fn::GetAtt": [key, "Arn"] });
  });

  it("each execution role reads only its own service's secrets and log group", () => {
    const secretsOf = (prefix: string) =>
      roleStatements(prefix)
        .filter((s) => actionsOf(s).includes("secretsmanager:GetSecretValue"))
        .flatMap((s) => asList(s.Resource).map((r) => (r as { Ref: string }).Ref))
        .sort();
    const db = logicalId(template, "AWS::SecretsManager::SecretTargetAttachment", "DataDatabaseSecretAttachment");
    assert.deepEqual(secretsOf("ServicesCoreTaskExecutionRole"), [db, logicalId(template, "AWS::SecretsManager::Secret", "ServicesAdminPassword")].sort());
    assert.deepEqual(secretsOf("ServicesSyncTaskExecutionRole"), [logicalId(template, "AWS::SecretsManager::Secret", "ServicesSyncSecret")]);
    assert.deepEqual(secretsOf("ServicesAnalyticsTaskExecutionRole"), [db, logicalId(template, "AWS::SecretsManager::Secret", "ServicesAnalyticsSecret")].sort());
    for (const service of ["Core", "Sync", "Analytics"]) {
      const logs = roleStatements(`Services${service}TaskExecutionRole`).filter((s) => actionsOf(s).includes("logs:PutLogEvents"));
      assert.deepEqual(logs.map((s) => s.Resource), [{ "Fn::GetAtt": [logicalId(template, "AWS::Logs::LogGroup", `Services${service}Logs`), "Arn"] }]);
    }
  });

  it("the analytics database is created through the Data API with rds-data permissions on the cluster only", () => {
    const statements = identity.filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith("rds")));
    assert.equal(statements.length, 1);
    assert.deepEqual(statements[0]!.statement.Action, "rds-data:ExecuteStatement");
    assert.match(JSON.stringify(statements[0]!.statement.Resource), /:cluster:/);
  });
});
