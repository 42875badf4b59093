// One customer-managed KMS key per deployment for data at rest: the lake, the database, its
// secrets, log groups and the alarm topic. Its policy names every action (no kms:*).
import { Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";

/** What the account's administrators may do with the key (through IAM policies). */
export const KEY_ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:CreateGrant",
  "kms:Decrypt",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:RetireGrant",
  "kms:RevokeGrant",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

export class DataKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: { readonly name: string }) {
    super(scope, id);
    const stack = Stack.of(this);
    const policy = new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: "AccountAdministersTheKeyThroughIam",
          principals: [new iam.AccountRootPrincipal()],
          actions: KEY_ADMIN_ACTIONS,
          // In a key policy, "*" is this key.
          resources: ["*"],
        }),
        new iam.PolicyStatement({
          sid: "CloudWatchLogsEncryptsThisDeploymentsLogGroups",
          principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
          actions: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"],
          resources: ["*"],
          conditions: {
            ArnLike: {
              "kms:EncryptionContext:aws:logs:arn": [
                `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/${props.name}/*`,
                `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/rds/cluster/${props.name}/*`,
              ],
            },
          },
        }),
        new iam.PolicyStatement({
          sid: "CloudWatchAlarmsPublishToTheEncryptedTopic",
          principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
          actions: ["kms:Decrypt", "kms:GenerateDataKey"],
          resources: ["*"],
          conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
        }),
      ],
    });
    this.key = new kms.Key(this, "Key", {
      alias: `alias/${props.name}-data`,
      description: `${props.name}: data at rest (lake, database, secrets, logs, alarm topic)`,
      enableKeyRotation: true,
      policy,
    });
  }
}
