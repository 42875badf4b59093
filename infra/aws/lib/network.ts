// The network: a VPC with public subnets (the load balancer and NAT only), private subnets with
// egress (the Fargate tasks: ECR, AWS APIs, Cloudflare's API) and isolated subnets (Aurora).
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import type { VaneConfig } from "./config.js";

export interface NetworkProps {
  readonly config: VaneConfig;
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { config } = props;
    const flowLogGroup = new logs.LogGroup(this, "FlowLogs", {
      logGroupName: `/${config.name}/vpc-flow-logs`,
      retention: props.logRetention,
      encryptionKey: props.key,
    });
    this.vpc = new ec2.Vpc(this, "Vpc", {
      vpcName: config.name,
      ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
      maxAzs: config.network.maxAzs,
      natGateways: config.network.natGateways,
      // The default security group is never used; CDK strips its rules.
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: "private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: "database", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
      // The lake's traffic stays off the NAT gateways.
      gatewayEndpoints: { s3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
  }
}
