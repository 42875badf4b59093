// checkov reads suppressions from a resource's Metadata; every one carries its reason, so the
// reason sits in the code next to the resource it concerns.
import { CfnResource } from "aws-cdk-lib";
import { IConstruct } from "constructs";

export interface Suppression {
  /** The checkov check id, e.g. CKV_AWS_117. */
  readonly id: string;
  /** Why the finding does not apply or is accepted. */
  readonly reason: string;
}

/** The CloudFormation resource behind `construct` (itself, or its default child). */
export function cfnOf(construct: IConstruct): CfnResource {
  if (construct instanceof CfnResource) return construct;
  const child = construct.node.defaultChild;
  if (child instanceof CfnResource) return child;
  throw new Error(`${construct.node.path} has no CloudFormation resource of its own`);
}

/** Adds checkov skips (with their reasons) to the resource's Metadata. */
export function suppress(construct: IConstruct, ...suppressions: Suppression[]): void {
  const resource = cfnOf(construct);
  const existing = (resource.getMetadata("checkov") as { skip?: { id: string; comment: string }[] } | undefined)?.skip ?? [];
  const skip = [...existing];
  for (const s of suppressions) {
    if (!s.reason.trim()) throw new Error(`suppression ${s.id} on ${construct.node.path} needs a reason`);
    if (!skip.some((e) => e.id === s.id)) skip.push({ id: s.id, comment: s.reason });
  }
  resource.addMetadata("checkov", { skip });
}

/**
 * The Lambda functions CDK itself adds (custom-resource handlers: analytics' database, the
 * default security group's rules) run only during deployments; they are not Vane's code paths.
 */
export function suppressDeploymentHandlers(scope: IConstruct): void {
  for (const node of scope.node.findAll()) {
    if (node instanceof CfnResource && node.cfnResourceType === "AWS::Lambda::Function") {
      suppress(
        node,
        { id: "CKV_AWS_115", reason: "A CDK custom-resource handler runs only during deployments; it needs no concurrency limit." },
        { id: "CKV_AWS_116", reason: "CloudFormation reports a failed custom-resource call itself; a dead-letter queue adds nothing." },
        { id: "CKV_AWS_117", reason: "It calls public AWS APIs only; it needs no VPC." },
        { id: "CKV_AWS_173", reason: "It has no environment variables worth a customer-managed key." },
      );
    }
  }
}
