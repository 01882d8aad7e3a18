"""Transform infra/template.yaml with the AWS SAM translator, fully offline; print the JSON.

The parity test (test/parity.test.ts) compares this output with the construct's synthesized
template. Offline means: no AWS credentials, no network.

* The template's CodeUri values are local zip paths (sam deploy uploads them); the translator
  wants S3 locations, so each becomes s3://ecs-capacity-parity/<name>.zip. The parity test
  ignores the functions' Code on both sides.
* The translator looks up managed policy ARNs through IAM only for a function without Role
  that names policies; every function here has its own Role, and an empty managed policy map
  plus a get_managed_policy_map that refuses to be called make any such lookup an error
  instead of a network call.
* The translator asks a boto3 session for the region (AWS::Region, AWS::Partition for the few
  values it resolves itself): a session made with a fixed region_name, which reads no
  credentials and calls nothing; ArnGenerator gets the same region for its partition lookup.

usage: python sam-transform.py infra/template.yaml > transformed.json
"""

import json
import sys

import boto3

from samtranslator.parser.parser import Parser
from samtranslator.translator.arn_generator import ArnGenerator
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


# Any region: the parity test resolves AWS::Region itself, the same on both sides.
REGION = "eu-west-1"


def refuse_managed_policy_lookup():
    raise RuntimeError("the SAM translator asked IAM for managed policies: a function lost its Role")


def placeholder_code_uris(template):
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code_uri = resource.get("Properties", {}).get("CodeUri")
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            resource["Properties"]["CodeUri"] = f"s3://ecs-capacity-parity/{logical_id}.zip"


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    placeholder_code_uris(template)
    ArnGenerator.BOTO_SESSION_REGION_NAME = REGION
    session = boto3.session.Session(region_name=REGION)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    transformed = translator.translate(
        sam_template=template,
        parameter_values={},
        get_managed_policy_map=refuse_managed_policy_lookup,
    )
    json.dump(transformed, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: sam-transform.py <template.yaml>")
    main(sys.argv[1])
