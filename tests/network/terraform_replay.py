"""What terraform-provider-aws sends for `terraform apply` then `terraform destroy` of the seeds'
resources, replayed with boto3 in the provider's order and with its parameters (Terraform and its
providers are not in any package registry this project can reach).

The configuration:

    resource "aws_cloudwatch_log_group" "flows" { name = "/seeds/flows"  retention_in_days = 7 }
    resource "aws_iam_role" "flow_logs" {
      name               = "seeds-flow-logs"
      assume_role_policy = <trust: vpc-flow-logs.amazonaws.com, sts:AssumeRole>
    }
    resource "aws_iam_role_policy" "flow_logs" {
      role = aws_iam_role.flow_logs.id  name = "flow-logs"  policy = <logs:* on *>
    }
    resource "aws_vpc" "main" { cidr_block = "10.40.0.0/16"  enable_dns_hostnames = true
                                tags = { Name = "seeds" } }
    resource "aws_subnet" "a" { vpc_id = aws_vpc.main.id  cidr_block = "10.40.1.0/24"
                                availability_zone = "us-east-1a"  map_public_ip_on_launch = true }
    resource "aws_subnet" "b" { vpc_id = aws_vpc.main.id  cidr_block = "10.40.2.0/24"
                                availability_zone = "us-east-1a" }
    resource "aws_security_group" "web" {
      name = "seeds-web"  description = "web"  vpc_id = aws_vpc.main.id
      ingress { from_port = 443  to_port = 443  protocol = "tcp"  cidr_blocks = ["0.0.0.0/0"] }
      egress  { from_port = 0    to_port = 0    protocol = "-1"   cidr_blocks = ["0.0.0.0/0"] }
    }
    resource "aws_flow_log" "main" {
      vpc_id = aws_vpc.main.id  traffic_type = "ALL"
      log_destination = aws_cloudwatch_log_group.flows.arn  iam_role_arn = aws_iam_role.flow_logs.arn
      tags = { Name = "seeds" }
    }

The calls, from the provider's source (github.com/hashicorp/terraform-provider-aws):

* start-up: sts:GetCallerIdentity (`internal/conns`, as `reference/aws-api.md` §5 records).
* aws_cloudwatch_log_group (`internal/service/logs/group.go`, commit
  b11fc0fdd2efcc87bbff031692818008455bd048, and §5): CreateLogGroup, then
  PutRetentionPolicy; Read: DescribeLogGroups(logGroupNamePrefix) matched by exact name (arn,
  retentionInDays, logGroupClass), ListTagsForResource. Delete: DeleteLogGroup.
* aws_iam_role (`internal/service/iam/role.go`, commits 3277329285f5730eeff9c56fbe69836c9448ab78
  and 0040ea6911af00bea2cca6dbb14e86829826ad8e): CreateRole(RoleName, Path,
  AssumeRolePolicyDocument, MaxSessionDuration); Read: GetRole (the trust policy compared as a
  document, URL-unescaped), ListRolePolicies with GetRolePolicy of each, and
  ListAttachedRolePolicies. Delete: ListInstanceProfilesForRole,
  then DeleteRole.
* aws_iam_role_policy (`internal/service/iam/role_policy.go`, commit
  33aa0b5e1401dc9bb1c862c51471506512abc050): PutRolePolicy; Read:
  GetRolePolicy (the document compared). Delete: DeleteRolePolicy.
* aws_vpc (`internal/service/ec2/vpc_.go`, commit 00081ce41cc691433ac19bf42227cdabffd0454d):
  CreateVpc(CidrBlock, InstanceTenancy=default, AmazonProvidedIpv6CidrBlock=false, tags), wait:
  DescribeVpcs(VpcIds) until available; ModifyVpcAttribute(EnableDnsHostnames) as configured;
  Read: DescribeVpcs, DescribeVpcAttribute for enableDnsHostnames, enableDnsSupport and
  enableNetworkAddressUsageMetrics, the default network ACL (DescribeNetworkAcls
  default=true, vpc-id), the main route table (DescribeRouteTables association.main=true,
  vpc-id), the default security group (DescribeSecurityGroups group-name=default, vpc-id).
  Delete: DeleteVpc (retried on DependencyViolation), then DescribeVpcs until
  InvalidVpcID.NotFound.
* aws_subnet (`internal/service/ec2/vpc_subnet.go`, commit
  00cda125a19d31754cb0d073cf551264c57955cb): CreateSubnet(AvailabilityZone, CidrBlock, VpcId,
  tags), wait: DescribeSubnets(SubnetIds) until available; ModifySubnetAttribute
  (MapPublicIpOnLaunch) where the config differs from the answer; Read: DescribeSubnets. Delete:
  DescribeNetworkInterfaces(subnet-id) for lingering ENIs, DeleteSubnet.
* aws_security_group (`internal/service/ec2/vpc_security_group.go`, commit
  cc0fff0ee90634c6bb137ec44732684543b68dbe): CreateSecurityGroup(GroupName, Description, VpcId,
  tags), wait: DescribeSecurityGroups(GroupIds); RevokeSecurityGroupEgress of the default
  allow-all egress (IPv4), then of the IPv6 one (InvalidPermission.NotFound expected and
  ignored); AuthorizeSecurityGroupIngress and AuthorizeSecurityGroupEgress of the configured
  rules; Read: DescribeSecurityGroups (rules compared). Delete: DescribeNetworkInterfaces
  (group-id), DeleteSecurityGroup, DescribeSecurityGroups until InvalidGroup.NotFound.
* aws_flow_log (`internal/service/ec2/vpc_flow_log.go`, commit
  86475b48ed749daf986b84c0f92591eddcced1ba, and §5): CreateFlowLogs(ClientToken,
  ResourceIds, ResourceType=VPC, TrafficType, LogDestinationType=cloud-watch-logs,
  LogDestination, DeliverLogsPermissionArn, MaxAggregationInterval=600, tags); Read:
  DescribeFlowLogs(FlowLogIds) with every argument echoed. Delete: DeleteFlowLogs.

`destroy` deletes in the reverse order of the dependencies.
"""

import json
import uuid

from e2e import check, client, error_of

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream",
                                  "logs:PutLogEvents", "logs:DescribeLogGroups",
                                  "logs:DescribeLogStreams"], "Resource": "*"}]}
DEFAULT_FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "
                  "${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} "
                  "${log-status}")


def tags(kind, **kv):
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in kv.items()]}]


def apply(url):
    """`terraform apply`: the calls and the Reads' checks. Returns the state (ids)."""
    ec2, iam, logs, sts = (client(url, s) for s in ("ec2", "iam", "logs", "sts"))
    state = {}
    account = sts.get_caller_identity()["Account"]

    logs.create_log_group(logGroupName="/seeds/flows")
    logs.put_retention_policy(logGroupName="/seeds/flows", retentionInDays=7)
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix="/seeds/flows")["logGroups"]
              if g["logGroupName"] == "/seeds/flows"]
    check("terraform: log group Read", len(groups) == 1 and groups[0]["retentionInDays"] == 7
          and groups[0].get("logGroupClass", "STANDARD") == "STANDARD", str(groups))
    state["log_group_arn"] = groups[0]["arn"].removesuffix(":*")
    logs.list_tags_for_resource(resourceArn=state["log_group_arn"])

    iam.create_role(RoleName="seeds-flow-logs", Path="/",
                    AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=3600)
    role = iam.get_role(RoleName="seeds-flow-logs")["Role"]
    check("terraform: role Read (the trust policy as given)",
          role["AssumeRolePolicyDocument"] == TRUST and role["Path"] == "/"
          and role["MaxSessionDuration"] == 3600
          and role["Arn"] == f"arn:aws:iam::{account}:role/seeds-flow-logs", str(role))
    state["role_arn"] = role["Arn"]
    check("terraform: a new role has no policies",
          not iam.list_role_policies(RoleName="seeds-flow-logs")["PolicyNames"]
          and not iam.list_attached_role_policies(
              RoleName="seeds-flow-logs")["AttachedPolicies"])
    iam.put_role_policy(RoleName="seeds-flow-logs", PolicyName="flow-logs",
                        PolicyDocument=json.dumps(POLICY))
    names = iam.list_role_policies(RoleName="seeds-flow-logs")["PolicyNames"]
    got = iam.get_role_policy(RoleName="seeds-flow-logs", PolicyName=names[0])
    check("terraform: role policy Read (the document as given)",
          got["PolicyDocument"] == POLICY, str(got))

    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", InstanceTenancy="default",
                         AmazonProvidedIpv6CidrBlock=False,
                         TagSpecifications=tags("vpc", Name="seeds"))["Vpc"]
    state["vpc"] = vpc["VpcId"]
    described = ec2.describe_vpcs(VpcIds=[state["vpc"]])["Vpcs"]
    check("terraform: the VPC is available",
          len(described) == 1 and described[0]["State"] == "available")
    ec2.modify_vpc_attribute(VpcId=state["vpc"], EnableDnsHostnames={"Value": True})
    read_vpc(ec2, state["vpc"])

    for name, cidr in [("a", "10.40.1.0/24"), ("b", "10.40.2.0/24")]:
        s = ec2.create_subnet(AvailabilityZone="us-east-1a", CidrBlock=cidr, VpcId=state["vpc"],
                              TagSpecifications=tags("subnet", Name=f"seeds-{name}"))["Subnet"]
        state[f"subnet_{name}"] = s["SubnetId"]
        waited = ec2.describe_subnets(SubnetIds=[s["SubnetId"]])["Subnets"][0]
        if name == "a" and not waited["MapPublicIpOnLaunch"]:
            ec2.modify_subnet_attribute(SubnetId=s["SubnetId"],
                                        MapPublicIpOnLaunch={"Value": True})
        read = ec2.describe_subnets(SubnetIds=[s["SubnetId"]])["Subnets"][0]
        check(f"terraform: subnet {name} Read",
              read["CidrBlock"] == cidr and read["VpcId"] == state["vpc"]
              and read["AvailabilityZone"] == "us-east-1a"
              and read["MapPublicIpOnLaunch"] == (name == "a")
              and {"Key": "Name", "Value": f"seeds-{name}"} in read["Tags"], str(read))

    sg = ec2.create_security_group(GroupName="seeds-web", Description="web", VpcId=state["vpc"],
                                   TagSpecifications=tags("security-group", Name="seeds-web"))
    state["sg"] = sg["GroupId"]
    ec2.describe_security_groups(GroupIds=[state["sg"]])
    ec2.revoke_security_group_egress(GroupId=state["sg"], IpPermissions=[{
        "FromPort": 0, "ToPort": 0, "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    v6 = error_of(lambda: ec2.revoke_security_group_egress(GroupId=state["sg"], IpPermissions=[{
        "FromPort": 0, "ToPort": 0, "IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]))
    check("terraform: revoking the absent IPv6 egress is InvalidPermission.NotFound",
          v6 and v6[0] == "InvalidPermission.NotFound", str(v6))
    check("terraform: no egress left", not ec2.describe_security_groups(
        GroupIds=[state["sg"]])["SecurityGroups"][0]["IpPermissionsEgress"])
    ingress = [{"FromPort": 443, "ToPort": 443, "IpProtocol": "tcp",
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    egress = [{"FromPort": 0, "ToPort": 0, "IpProtocol": "-1",
               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=state["sg"], IpPermissions=ingress)
    ec2.authorize_security_group_egress(GroupId=state["sg"], IpPermissions=egress)
    g = ec2.describe_security_groups(GroupIds=[state["sg"]])["SecurityGroups"][0]
    rule = lambda p: (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"),
                      [r["CidrIp"] for r in p["IpRanges"]])
    check("terraform: security group Read (the rules as authorized)",
          g["GroupName"] == "seeds-web" and g["Description"] == "web"
          and g["VpcId"] == state["vpc"]
          and [rule(p) for p in g["IpPermissions"]] == [("tcp", 443, 443, ["0.0.0.0/0"])]
          and [rule(p)[0] for p in g["IpPermissionsEgress"]] == ["-1"]
          and g["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}], str(g))

    token = str(uuid.uuid4())
    fl = ec2.create_flow_logs(ClientToken=token, ResourceIds=[state["vpc"]], ResourceType="VPC",
                              TrafficType="ALL", LogDestinationType="cloud-watch-logs",
                              LogDestination=state["log_group_arn"],
                              DeliverLogsPermissionArn=state["role_arn"],
                              MaxAggregationInterval=600,
                              TagSpecifications=tags("vpc-flow-log", Name="seeds"))
    check("terraform: CreateFlowLogs, nothing unsuccessful",
          len(fl["FlowLogIds"]) == 1 and not fl["Unsuccessful"], str(fl))
    state["flow_log"] = fl["FlowLogIds"][0]
    read = ec2.describe_flow_logs(FlowLogIds=[state["flow_log"]])["FlowLogs"]
    f = read[0] if len(read) == 1 else {}
    check("terraform: flow log Read echoes every argument",
          f.get("FlowLogId") == state["flow_log"] and f.get("ResourceId") == state["vpc"]
          and f.get("TrafficType") == "ALL" and f.get("LogDestinationType") == "cloud-watch-logs"
          and f.get("LogDestination") == state["log_group_arn"]
          and f.get("DeliverLogsPermissionArn") == state["role_arn"]
          and f.get("MaxAggregationInterval") == 600 and f.get("LogFormat") == DEFAULT_FORMAT
          and {"Key": "Name", "Value": "seeds"} in f.get("Tags", []), str(f))
    return state


def read_vpc(ec2, vpc):
    """The Read of aws_vpc: the VPC, its three attributes, and its default ACL, main route
    table and default security group, each found exactly once."""
    v = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    attr = lambda name, key: ec2.describe_vpc_attribute(VpcId=vpc, Attribute=name)[key]["Value"]
    acls = ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]},
                                              {"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    mains = ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]},
                                               {"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                                {"Name": "vpc-id", "Values": [vpc]}])
    check("terraform: VPC Read",
          v["CidrBlock"] == "10.40.0.0/16" and v["InstanceTenancy"] == "default"
          and v["DhcpOptionsId"].startswith("dopt-") and v["OwnerId"]
          and {"Key": "Name", "Value": "seeds"} in v["Tags"]
          and attr("enableDnsHostnames", "EnableDnsHostnames") is True
          and attr("enableDnsSupport", "EnableDnsSupport") is True
          and attr("enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics") is False
          and len(acls) == 1 and len(mains) == 1 and len(sgs["SecurityGroups"]) == 1,
          f"{v} acls={len(acls)} mains={len(mains)} sgs={len(sgs['SecurityGroups'])}")


def destroy(url, state):
    """`terraform destroy`, dependencies first; then nothing is left."""
    ec2, iam, logs = (client(url, s) for s in ("ec2", "iam", "logs"))
    ec2.delete_flow_logs(FlowLogIds=[state["flow_log"]])
    ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [state["sg"]]}])
    ec2.delete_security_group(GroupId=state["sg"])
    gone = error_of(lambda: ec2.describe_security_groups(GroupIds=[state["sg"]]))
    check("terraform: the group is gone", gone and gone[0] == "InvalidGroup.NotFound", str(gone))
    for name in ("a", "b"):
        enis = ec2.describe_network_interfaces(Filters=[{
            "Name": "subnet-id", "Values": [state[f"subnet_{name}"]]}])["NetworkInterfaces"]
        check(f"terraform: no lingering ENI in subnet {name}", not enis, str(enis))
        ec2.delete_subnet(SubnetId=state[f"subnet_{name}"])
    ec2.delete_vpc(VpcId=state["vpc"])
    gone = error_of(lambda: ec2.describe_vpcs(VpcIds=[state["vpc"]]))
    check("terraform: the VPC is gone", gone and gone[0] == "InvalidVpcID.NotFound", str(gone))
    iam.delete_role_policy(RoleName="seeds-flow-logs", PolicyName="flow-logs")
    iam.list_instance_profiles_for_role(RoleName="seeds-flow-logs")
    iam.delete_role(RoleName="seeds-flow-logs")
    logs.delete_log_group(logGroupName="/seeds/flows")
    left = {
        "vpcs": ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["seeds"]}])["Vpcs"],
        "subnets": ec2.describe_subnets(Filters=[{"Name": "vpc-id",
                                                  "Values": [state["vpc"]]}])["Subnets"],
        "groups": ec2.describe_security_groups(Filters=[{
            "Name": "vpc-id", "Values": [state["vpc"]]}])["SecurityGroups"],
        "acls": ec2.describe_network_acls(Filters=[{"Name": "vpc-id",
                                                    "Values": [state["vpc"]]}])["NetworkAcls"],
        "route tables": ec2.describe_route_tables(Filters=[{
            "Name": "vpc-id", "Values": [state["vpc"]]}])["RouteTables"],
        "flow logs": [f for f in ec2.describe_flow_logs()["FlowLogs"]
                      if f["FlowLogId"] == state["flow_log"]],
        "roles": [r for r in iam.list_roles()["Roles"] if r["RoleName"] == "seeds-flow-logs"],
        "log groups": [g for g in logs.describe_log_groups(
            logGroupNamePrefix="/seeds/flows")["logGroups"]],
    }
    check("terraform: destroy leaves nothing behind", not any(left.values()),
          str({k: v for k, v in left.items() if v}))


def terraform_replay(url):
    destroy(url, apply(url))
